namespace MLNetExtensions.Evaluators.TemporalLocalization;

/// <summary>Temporal intersection over union as ActivityNet's <c>segment_iou</c> (no "+1" on lengths).</summary>
public static class TemporalIoU
{
    /// <summary>
    /// <c>inter = max(0, min(e₁, e₂) − max(s₁, s₂))</c>, <c>union = (e₁ − s₁) + (e₂ − s₂) − inter</c>, <c>inter / union</c>.
    /// Two zero-length segments give 0 here, where the official code's 0/0 = NaN would count as a match at every threshold.
    /// </summary>
    public static double Compute(double start1, double end1, double start2, double end2)
    {
        double inter = Math.Max(0.0, Math.Min(end1, end2) - Math.Max(start1, start2));
        // Same operand order as segment_iou(target=1, candidates=2): (cand_e − cand_s) + (target_e − target_s) − inter.
        double union = (end2 - start2) + (end1 - start1) - inter;
        return union > 0 ? inter / union : 0.0;
    }
}

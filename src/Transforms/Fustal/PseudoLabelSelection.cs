namespace MLNetExtensions.Transforms.Fustal;

/// <summary>
/// FuSTAL's prior-based filtering of teacher proposals (note fustal.md §4): true actions draw many overlapping
/// proposals, false positives are isolated, so a proposal is kept when its summed overlap with the video's other
/// proposals (all classes pooled) is high enough and its own score is confident.
/// </summary>
public static class PseudoLabelSelection
{
    /// <summary>Density <c>d_i = Σ_{j≠i} IoU(i, j)</c> over all proposals of one video (standard IoU, classes pooled).</summary>
    public static double[] Densities(IReadOnlyList<TemporalProposal> proposals)
    {
        ArgumentNullException.ThrowIfNull(proposals);
        var d = new double[proposals.Count];
        for (int i = 0; i < d.Length; i++)
            for (int j = 0; j < d.Length; j++)
                if (i != j) d[i] += SegmentMath.IoU(proposals[i].Start, proposals[i].End, proposals[j].Start, proposals[j].End);
        return d;
    }

    /// <summary>Keeps proposal i ⇔ <c>d_i ≥ <paramref name="gamma"/></c> and <c>score_i &gt; <paramref name="eta"/></c>, in input order.</summary>
    public static List<TemporalProposal> Select(IReadOnlyList<TemporalProposal> proposals, double gamma = 0.2, double eta = 0.4)
    {
        var d = Densities(proposals);
        var kept = new List<TemporalProposal>();
        for (int i = 0; i < d.Length; i++)
            if (d[i] >= gamma && proposals[i].Score > eta) kept.Add(proposals[i]);
        return kept;
    }
}

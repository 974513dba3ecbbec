namespace MLNetExtensions.Transforms.Fustal;

/// <summary>
/// The student's inference NMS (note fustal.md §5.3): ActionFormer/TriDet <c>nms_1d_cpu.softnms</c> with the Gaussian
/// method, applied per class (<c>batched_nms</c>, multiclass). Overlap without "+1".
/// </summary>
public static class SoftNms
{
    /// <summary>
    /// One class: drop scores ≤ <paramref name="minScore"/>, then repeatedly move the best remaining segment to the
    /// front (first maximum on ties) and decay the others by <c>exp(−IoU²/σ)</c>, discarding a segment (swapped with the
    /// last) once its score falls below <paramref name="minScore"/>. Returns selected segments with their score at
    /// selection, in selection order, at most <paramref name="maxSegments"/> (≤ 0: all).
    /// </summary>
    public static List<TemporalProposal> Gaussian(IReadOnlyList<TemporalProposal> segments, double sigma = 0.5, double minScore = 0.001, int maxSegments = 2000)
    {
        ArgumentNullException.ThrowIfNull(segments);
        if (!(sigma > 0)) throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "σ must be > 0.");
        var s = segments.Where(p => minScore <= 0 || p.Score > minScore).ToArray();
        var area = s.Select(p => p.End - p.Start).ToArray();
        var score = s.Select(p => p.Score).ToArray();
        int n = s.Length;
        for (int i = 0; i < n; i++)
        {
            int best = i;
            for (int pos = i + 1; pos < n; pos++) if (score[best] < score[pos]) best = pos;
            (s[i], s[best]) = (s[best], s[i]);
            (score[i], score[best]) = (score[best], score[i]);
            (area[i], area[best]) = (area[best], area[i]);
            var b = s[i];
            for (int pos = i + 1; pos < n; pos++)
            {
                double inter = Math.Max(0.0, Math.Min(b.End, s[pos].End) - Math.Max(b.Start, s[pos].Start));
                double ovr = inter / (area[i] + area[pos] - inter);
                score[pos] *= Math.Exp(-(ovr * ovr) / sigma);
                if (score[pos] < minScore)
                {
                    n--;
                    s[pos] = s[n]; score[pos] = score[n]; area[pos] = area[n];
                    pos--;
                }
            }
        }
        int keep = maxSegments > 0 ? Math.Min(n, maxSegments) : n;
        var result = new List<TemporalProposal>(keep);
        for (int i = 0; i < keep; i++) result.Add(s[i] with { Score = score[i] });
        return result;
    }

    /// <summary>
    /// Gaussian soft-NMS per class (ascending class index), then all classes sorted by score (stable on ties) and
    /// capped at <paramref name="maxSegments"/> per video.
    /// </summary>
    public static List<TemporalProposal> MultiClass(IReadOnlyList<TemporalProposal> segments, double sigma = 0.5, double minScore = 0.001, int maxSegments = 2000)
    {
        ArgumentNullException.ThrowIfNull(segments);
        var all = new List<TemporalProposal>();
        foreach (var cls in segments.Select(p => p.ClassIndex).Distinct().Order())
            all.AddRange(Gaussian(segments.Where(p => p.ClassIndex == cls).ToList(), sigma, minScore, maxSegments));
        var sorted = all.OrderByDescending(p => p.Score);
        return (maxSegments > 0 ? sorted.Take(maxSegments) : sorted).ToList();
    }
}

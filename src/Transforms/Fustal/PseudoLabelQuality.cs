namespace MLNetExtensions.Transforms.Fustal;

/// <summary>A ground-truth action instance of one video (class index, seconds), for pseudo-label quality.</summary>
public readonly record struct ActionInstance(int ClassIndex, double Start, double End);

/// <summary>
/// Quality of pseudo labels against the hidden ground truth (note fustal.md §9.3), over the videos of a split.
/// A pseudo segment is true when some ground-truth instance of its class has IoU ≥ <see cref="IoUThreshold"/> with it
/// (no one-to-one matching: duplicates on one instance all count as true, which is what a student trains on).
/// </summary>
/// <param name="Precision">True pseudo segments / pseudo segments.</param>
/// <param name="Recall">Ground-truth instances with a true pseudo segment / instances.</param>
/// <param name="MeanBestIoU">Mean over ground-truth instances of the best IoU of a same-class pseudo segment (0 without one).</param>
/// <param name="SegmentsPerVideo">Pseudo segments per video.</param>
/// <param name="SegmentsPerInstance">Same-class pseudo segments overlapping (IoU &gt; 0) a covered instance, averaged over covered instances (fragmentation).</param>
/// <param name="DensityAuc">AUC of the density d_i for true vs false proposals of the unfiltered pool (NaN when one side is empty).</param>
/// <param name="Segments">Pseudo segments counted.</param>
/// <param name="Instances">Ground-truth instances counted.</param>
/// <param name="IoUThreshold">IoU that makes a segment true. Default 0.5.</param>
public sealed record PseudoLabelQuality(double Precision, double Recall, double MeanBestIoU, double SegmentsPerVideo, double SegmentsPerInstance,
    double DensityAuc, int Segments, int Instances, double IoUThreshold)
{
    /// <summary>
    /// Measures <paramref name="kept"/> (pseudo segments per video) against <paramref name="truth"/>; the density AUC is
    /// computed on <paramref name="pool"/> (all proposals before selection; null = on <paramref name="kept"/>). Videos
    /// missing from <paramref name="kept"/> have no pseudo segments.
    /// </summary>
    public static PseudoLabelQuality Measure(IReadOnlyDictionary<string, IReadOnlyList<ActionInstance>> truth,
        IReadOnlyDictionary<string, IReadOnlyList<TemporalProposal>> kept,
        IReadOnlyDictionary<string, IReadOnlyList<TemporalProposal>>? pool = null, double iouThreshold = 0.5)
    {
        ArgumentNullException.ThrowIfNull(truth);
        ArgumentNullException.ThrowIfNull(kept);
        foreach (var id in kept.Keys) if (!truth.ContainsKey(id)) throw new ArgumentException($"Video '{id}' has pseudo segments but no ground-truth entry.", nameof(kept));
        int segments = 0, trueSegments = 0, instances = 0, covered = 0, overlapping = 0;
        double bestSum = 0;
        foreach (var (id, gt) in truth)
        {
            var p = kept.TryGetValue(id, out var k) ? k : Array.Empty<TemporalProposal>();
            segments += p.Count;
            trueSegments += p.Count(s => IsTrue(s, gt, iouThreshold));
            foreach (var g in gt)
            {
                instances++;
                var same = p.Where(s => s.ClassIndex == g.ClassIndex).Select(s => SegmentMath.IoU(g.Start, g.End, s.Start, s.End)).ToList();
                double best = same.Count == 0 ? 0 : same.Max();
                bestSum += best;
                if (best >= iouThreshold) { covered++; overlapping += same.Count(x => x > 0); }
            }
        }
        var tp = new List<double>(); var fp = new List<double>();
        foreach (var (id, props) in pool ?? kept)
        {
            var gt = truth.TryGetValue(id, out var g) ? g : Array.Empty<ActionInstance>();
            var d = PseudoLabelSelection.Densities(props);
            for (int i = 0; i < props.Count; i++) (IsTrue(props[i], gt, iouThreshold) ? tp : fp).Add(d[i]);
        }
        return new PseudoLabelQuality(
            segments == 0 ? 0 : (double)trueSegments / segments, instances == 0 ? 0 : (double)covered / instances,
            instances == 0 ? 0 : bestSum / instances, truth.Count == 0 ? 0 : (double)segments / truth.Count,
            covered == 0 ? 0 : (double)overlapping / covered, Auc(tp, fp), segments, instances, iouThreshold);
    }

    private static bool IsTrue(TemporalProposal s, IReadOnlyList<ActionInstance> gt, double thr) =>
        gt.Any(g => g.ClassIndex == s.ClassIndex && SegmentMath.IoU(g.Start, g.End, s.Start, s.End) >= thr);

    /// <summary>Mann–Whitney AUC: P(a positive's value &gt; a negative's), ties ½; NaN when either side is empty.</summary>
    public static double Auc(IReadOnlyList<double> positives, IReadOnlyList<double> negatives)
    {
        if (positives.Count == 0 || negatives.Count == 0) return double.NaN;
        // Rank-based, O(n log n): sort all values, average ranks over ties.
        var all = positives.Select(v => (v, pos: true)).Concat(negatives.Select(v => (v, pos: false))).OrderBy(x => x.v).ToList();
        double rankSum = 0;
        for (int i = 0; i < all.Count;)
        {
            int j = i;
            while (j < all.Count && all[j].v == all[i].v) j++;
            double rank = (i + 1 + j) / 2.0; // mean of ranks i+1 … j
            for (int q = i; q < j; q++) if (all[q].pos) rankSum += rank;
            i = j;
        }
        double n1 = positives.Count, n0 = negatives.Count;
        return (rankSum - n1 * (n1 + 1) / 2) / (n1 * n0);
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"precision@{IoUThreshold:0.#} {Precision:0.000}  recall@{IoUThreshold:0.#} {Recall:0.000}  mean best IoU {MeanBestIoU:0.000}  segments/video {SegmentsPerVideo:0.00}  segments/instance {SegmentsPerInstance:0.00}  density AUC {DensityAuc:0.000}";
}

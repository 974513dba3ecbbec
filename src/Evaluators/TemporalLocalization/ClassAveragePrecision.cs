namespace MLNetExtensions.Evaluators.TemporalLocalization;

/// <summary>
/// One class's AP at several tIoU thresholds, as ActivityNet's <c>compute_average_precision_detection</c> and
/// <c>interpolated_prec_rec</c> (note fustal.md §8, steps 3–5).
/// </summary>
public static class ClassAveragePrecision
{
    /// <summary>
    /// AP per threshold of one class. <paramref name="groundTruth"/> and <paramref name="predictions"/> hold only this
    /// class, in input order (the order breaks score and tIoU ties: the later row comes first, as numpy's
    /// <c>argsort()[::-1]</c>). No predictions gives AP 0 everywhere.
    /// </summary>
    public static double[] Compute(IReadOnlyList<GroundTruthSegment> groundTruth, IReadOnlyList<PredictedSegment> predictions, IReadOnlyList<double> thresholds)
    {
        ArgumentNullException.ThrowIfNull(groundTruth);
        ArgumentNullException.ThrowIfNull(predictions);
        ArgumentNullException.ThrowIfNull(thresholds);
        int nt = thresholds.Count, np = predictions.Count, ng = groundTruth.Count;
        var ap = new double[nt];
        if (np == 0) return ap;
        if (ng == 0) throw new ArgumentException("A class scored for AP needs at least one ground-truth instance.", nameof(groundTruth));

        var gtByVideo = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        for (int g = 0; g < ng; g++)
        {
            if (!gtByVideo.TryGetValue(groundTruth[g].VideoId, out var list))
                gtByVideo[groundTruth[g].VideoId] = list = new List<int>();
            list.Add(g);
        }

        var order = DescendingLaterFirst(np, i => predictions[i].Score);
        var locked = new bool[nt, ng];
        var tp = new bool[nt, np];
        var fp = new bool[nt, np];
        for (int k = 0; k < np; k++)
        {
            var p = predictions[order[k]];
            if (!gtByVideo.TryGetValue(p.VideoId, out var gts))
            {
                for (int t = 0; t < nt; t++) fp[t, k] = true;
                continue;
            }
            var iou = new double[gts.Count];
            for (int j = 0; j < gts.Count; j++)
            {
                var g = groundTruth[gts[j]];
                iou[j] = TemporalIoU.Compute(p.Start, p.End, g.Start, g.End);
            }
            var visit = DescendingLaterFirst(gts.Count, j => iou[j]);
            for (int t = 0; t < nt; t++)
            {
                foreach (int j in visit)
                {
                    if (iou[j] < thresholds[t]) break;         // best remaining overlap too small: FP
                    if (locked[t, gts[j]]) continue;            // taken at this threshold: try the next-best instance
                    tp[t, k] = true;
                    locked[t, gts[j]] = true;
                    break;
                }
                if (!tp[t, k]) fp[t, k] = true;
            }
        }

        var precision = new double[np];
        var recall = new double[np];
        for (int t = 0; t < nt; t++)
        {
            double tpc = 0, fpc = 0;
            for (int k = 0; k < np; k++)
            {
                if (tp[t, k]) tpc += 1;
                if (fp[t, k]) fpc += 1;
                recall[k] = tpc / ng;
                precision[k] = tpc / (tpc + fpc);
            }
            ap[t] = Interpolated(precision, recall);
        }
        return ap;
    }

    /// <summary>VOC-2011 all-point interpolated AP (<c>interpolated_prec_rec</c>): precision made monotone from the right, summed over recall steps.</summary>
    public static double Interpolated(ReadOnlySpan<double> precision, ReadOnlySpan<double> recall)
    {
        if (precision.Length != recall.Length)
            throw new ArgumentException($"Precision has {precision.Length} values but recall has {recall.Length}.", nameof(recall));
        int m = precision.Length + 2;
        var mprec = new double[m];
        var mrec = new double[m];
        precision.CopyTo(mprec.AsSpan(1));
        recall.CopyTo(mrec.AsSpan(1));
        mrec[m - 1] = 1.0;
        for (int i = m - 2; i >= 0; i--) mprec[i] = Math.Max(mprec[i], mprec[i + 1]);
        var terms = new List<double>(m);
        for (int i = 1; i < m; i++)
            if (mrec[i] != mrec[i - 1]) terms.Add((mrec[i] - mrec[i - 1]) * mprec[i]);
        return NumpyCompat.Sum(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(terms));
    }

    /// <summary>
    /// Indices by value descending, ties by index descending: numpy's <c>argsort()[::-1]</c> for up to 16 values (its
    /// insertion sort is stable there) and a deterministic order beyond.
    /// </summary>
    internal static int[] DescendingLaterFirst(int n, Func<int, double> value)
    {
        var idx = new int[n];
        var v = new double[n];
        for (int i = 0; i < n; i++) { idx[i] = i; v[i] = value(i); }
        Array.Sort(idx, (a, b) =>
        {
            int c = v[b].CompareTo(v[a]);
            return c != 0 ? c : b.CompareTo(a);
        });
        return idx;
    }
}

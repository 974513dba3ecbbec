namespace MLNetExtensions.Evaluators.TemporalLocalization;

/// <summary>
/// ActivityNet detection mAP (<c>ANETdetection.evaluate</c>, note fustal.md §8) over plain segment records.
/// Deviations from the official code, all explicit: predictions of classes absent from the ground truth are dropped
/// and counted (the official code raises); two zero-length segments have tIoU 0 (officially NaN, which matches);
/// segments with end &lt; start or non-finite values are rejected.
/// </summary>
public static class TemporalDetectionEvaluator
{
    /// <summary>Evaluates <paramref name="predictions"/> against <paramref name="groundTruth"/>.</summary>
    /// <exception cref="ArgumentException">No ground truth, or an invalid segment (the message names it).</exception>
    public static TemporalDetectionMetrics Evaluate(
        IEnumerable<GroundTruthSegment> groundTruth,
        IEnumerable<PredictedSegment> predictions,
        TemporalDetectionEvaluatorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(groundTruth);
        ArgumentNullException.ThrowIfNull(predictions);
        options ??= new TemporalDetectionEvaluatorOptions();
        options.Validate();

        var gtAll = groundTruth.ToList();
        for (int i = 0; i < gtAll.Count; i++) Check(gtAll[i].VideoId, gtAll[i].Start, gtAll[i].End, gtAll[i].Label, 0, $"ground-truth segment {i}");
        var predAll = predictions.ToList();
        for (int i = 0; i < predAll.Count; i++) Check(predAll[i].VideoId, predAll[i].Start, predAll[i].End, predAll[i].Label, predAll[i].Score, $"prediction {i}");

        int removed = 0;
        if (options.RemoveDuplicateGroundTruth)
        {
            var kept = RemoveDuplicates(gtAll, options.DuplicateTolerance);
            removed = gtAll.Count - kept.Count;
            gtAll = kept;
        }
        if (gtAll.Count == 0)
            throw new ArgumentException("The ground truth has no segments; mAP is undefined.", nameof(groundTruth));

        // Classes in order of first appearance, as the official activity_index.
        var classIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        var gtByClass = new List<List<GroundTruthSegment>>();
        foreach (var g in gtAll)
        {
            if (!classIndex.TryGetValue(g.Label, out int c))
            {
                classIndex[g.Label] = c = gtByClass.Count;
                gtByClass.Add(new List<GroundTruthSegment>());
            }
            gtByClass[c].Add(g);
        }
        var predByClass = gtByClass.Select(_ => new List<PredictedSegment>()).ToList();
        int dropped = 0;
        foreach (var p in predAll)
        {
            if (classIndex.TryGetValue(p.Label, out int c)) predByClass[c].Add(p);
            else dropped++;
        }

        int nc = gtByClass.Count, nt = options.Thresholds.Count;
        var thresholds = options.Thresholds.ToArray();
        var ap = new double[nt][];
        for (int t = 0; t < nt; t++) ap[t] = new double[nc];
        for (int c = 0; c < nc; c++)
        {
            var apc = ClassAveragePrecision.Compute(gtByClass[c], predByClass[c], thresholds);
            for (int t = 0; t < nt; t++) ap[t][c] = apc[t];
        }
        var map = new double[nt];
        for (int t = 0; t < nt; t++) map[t] = NumpyCompat.Mean(ap[t]);

        var classes = new string[nc];
        foreach (var (name, c) in classIndex) classes[c] = name;
        return new TemporalDetectionMetrics(
            thresholds, classes, ap, map, NumpyCompat.Mean(map),
            gtByClass.Select(l => l.Count).ToArray(), predByClass.Select(l => l.Count).ToArray(), dropped, removed);
    }

    /// <summary>ActionFormer's <c>remove_duplicate_annotations</c>, per video: drop instances shorter than the tolerance and repeats of a kept one.</summary>
    internal static List<GroundTruthSegment> RemoveDuplicates(IReadOnlyList<GroundTruthSegment> gt, double tol)
    {
        var keptByVideo = new Dictionary<string, List<GroundTruthSegment>>(StringComparer.Ordinal);
        var result = new List<GroundTruthSegment>(gt.Count);
        foreach (var g in gt)
        {
            if (!keptByVideo.TryGetValue(g.VideoId, out var kept)) keptByVideo[g.VideoId] = kept = new List<GroundTruthSegment>();
            bool valid = g.End - g.Start >= tol;
            foreach (var k in kept)
                if (Math.Abs(g.Start - k.Start) <= tol && Math.Abs(g.End - k.End) <= tol && g.Label == k.Label) { valid = false; break; }
            if (!valid) continue;
            kept.Add(g);
            result.Add(g);
        }
        return result;
    }

    private static void Check(string video, double start, double end, string label, double score, string what)
    {
        if (video is null) throw new ArgumentException($"The {what} has no video id.");
        if (label is null) throw new ArgumentException($"The {what} (video '{video}') has no label.");
        if (!double.IsFinite(start) || !double.IsFinite(end))
            throw new ArgumentException($"The {what} (video '{video}') has a non-finite time [{start}, {end}].");
        if (end < start)
            throw new ArgumentException($"The {what} (video '{video}') ends before it starts: [{start}, {end}].");
        if (!double.IsFinite(score))
            throw new ArgumentException($"The {what} (video '{video}') has a non-finite score {score}.");
    }
}

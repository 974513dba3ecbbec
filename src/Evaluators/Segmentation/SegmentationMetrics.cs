namespace MLNetExtensions.Evaluators.Segmentation;

/// <summary>
/// Semantic-segmentation metrics as mmsegmentation 0.30 computes them (<c>total_area_to_metrics</c>) from accumulated
/// per-class areas. Values are fractions in [0, 1] (mmseg's log multiplies by 100). Per-class values are NaN where
/// the denominator is 0 — IoU for a class absent from both prediction and ground truth, accuracy for a class absent
/// from the ground truth — and the means skip NaN entries (<c>np.nanmean</c>); a mean over no finite entry is NaN.
/// </summary>
/// <param name="NumClasses">Number of classes K.</param>
/// <param name="AAcc">Overall pixel accuracy: Σ intersect / Σ label area (mmseg <c>aAcc</c>).</param>
/// <param name="MeanIoU">nanmean of <see cref="IoU"/> (mmseg <c>mIoU</c>).</param>
/// <param name="MeanAcc">nanmean of <see cref="Acc"/> (mmseg <c>mAcc</c>).</param>
/// <param name="MeanDice">nanmean of <see cref="Dice"/> (mmseg <c>mDice</c>).</param>
/// <param name="IoU">Per-class intersect / union.</param>
/// <param name="Acc">Per-class intersect / ground-truth area (recall).</param>
/// <param name="Dice">Per-class 2·intersect / (predicted area + ground-truth area).</param>
/// <param name="AreaIntersect">Per-class pixels predicted as the class where the ground truth is the class.</param>
/// <param name="AreaUnion">Per-class predicted area + ground-truth area − intersect.</param>
/// <param name="AreaPred">Per-class predicted area (over non-ignored pixels).</param>
/// <param name="AreaLabel">Per-class ground-truth area.</param>
public sealed record SegmentationMetrics(
    int NumClasses,
    double AAcc,
    double MeanIoU,
    double MeanAcc,
    double MeanDice,
    IReadOnlyList<double> IoU,
    IReadOnlyList<double> Acc,
    IReadOnlyList<double> Dice,
    IReadOnlyList<long> AreaIntersect,
    IReadOnlyList<long> AreaUnion,
    IReadOnlyList<long> AreaPred,
    IReadOnlyList<long> AreaLabel)
{
    /// <summary>Computes the metrics from per-class areas (mmseg <c>total_area_to_metrics</c>).</summary>
    public static SegmentationMetrics FromAreas(IReadOnlyList<long> areaIntersect, IReadOnlyList<long> areaPred, IReadOnlyList<long> areaLabel)
    {
        ArgumentNullException.ThrowIfNull(areaIntersect);
        ArgumentNullException.ThrowIfNull(areaPred);
        ArgumentNullException.ThrowIfNull(areaLabel);
        var k = areaIntersect.Count;
        if (areaPred.Count != k || areaLabel.Count != k)
            throw new ArgumentException($"Area arrays must have the same length; got {k}, {areaPred.Count}, {areaLabel.Count}.");
        var union = new long[k];
        var iou = new double[k];
        var acc = new double[k];
        var dice = new double[k];
        long totalIntersect = 0, totalLabel = 0;
        for (int c = 0; c < k; c++)
        {
            if (areaIntersect[c] < 0 || areaIntersect[c] > Math.Min(areaPred[c], areaLabel[c]))
                throw new ArgumentException($"Class {c}: intersect {areaIntersect[c]} must lie in [0, min(pred {areaPred[c]}, label {areaLabel[c]})].");
            union[c] = areaPred[c] + areaLabel[c] - areaIntersect[c];
            iou[c] = Ratio(areaIntersect[c], union[c]);
            acc[c] = Ratio(areaIntersect[c], areaLabel[c]);
            dice[c] = Ratio(2 * areaIntersect[c], areaPred[c] + areaLabel[c]);
            totalIntersect += areaIntersect[c];
            totalLabel += areaLabel[c];
        }
        return new SegmentationMetrics(
            k, Ratio(totalIntersect, totalLabel), NanMean(iou), NanMean(acc), NanMean(dice),
            iou, acc, dice, areaIntersect.ToArray(), union, areaPred.ToArray(), areaLabel.ToArray());
    }

    // 0/0 → NaN, as torch float division in mmseg.
    private static double Ratio(long num, long den) => den == 0 ? double.NaN : (double)num / den;

    private static double NanMean(double[] values)
    {
        double sum = 0;
        int n = 0;
        foreach (var v in values)
            if (!double.IsNaN(v)) { sum += v; n++; }
        return n == 0 ? double.NaN : sum / n;
    }
}

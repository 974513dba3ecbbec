using Microsoft.Data.Analysis;
using System.Globalization;

namespace MLNetExtensions.Evaluators.TemporalLocalization;

/// <summary>
/// ActivityNet detection metrics. Classes are those of the ground truth, in order of first appearance (the official
/// <c>activity_index</c>); values are fractions in [0, 1].
/// </summary>
/// <param name="Thresholds">tIoU thresholds, in the order given.</param>
/// <param name="Classes">Evaluated classes.</param>
/// <param name="AveragePrecision">AP per threshold (outer) and class (inner).</param>
/// <param name="MeanAveragePrecision">mAP per threshold: numpy mean of AP over classes.</param>
/// <param name="AverageMeanAveragePrecision">Mean of <paramref name="MeanAveragePrecision"/> over thresholds ("average mAP").</param>
/// <param name="GroundTruthCounts">Ground-truth instances per class (after de-duplication when enabled).</param>
/// <param name="PredictionCounts">Predictions per class.</param>
/// <param name="DroppedPredictions">Predictions of classes absent from the ground truth (not scored; the official code raises on them).</param>
/// <param name="RemovedGroundTruth">Ground-truth instances removed by <see cref="TemporalDetectionEvaluatorOptions.RemoveDuplicateGroundTruth"/>.</param>
public sealed record TemporalDetectionMetrics(
    IReadOnlyList<double> Thresholds,
    IReadOnlyList<string> Classes,
    IReadOnlyList<IReadOnlyList<double>> AveragePrecision,
    IReadOnlyList<double> MeanAveragePrecision,
    double AverageMeanAveragePrecision,
    IReadOnlyList<int> GroundTruthCounts,
    IReadOnlyList<int> PredictionCounts,
    int DroppedPredictions,
    int RemovedGroundTruth)
{
    /// <summary>AP of <paramref name="className"/> at the threshold with index <paramref name="thresholdIndex"/>.</summary>
    public double GetAveragePrecision(string className, int thresholdIndex)
    {
        int c = IndexOfClass(className);
        return AveragePrecision[thresholdIndex][c];
    }

    /// <summary>mAP at the threshold equal to <paramref name="threshold"/> (compared after rounding to 10 decimals, so 0.3 finds numpy's 0.30000000000000004).</summary>
    public double MeanAveragePrecisionAt(double threshold)
    {
        for (int t = 0; t < Thresholds.Count; t++)
            if (Math.Round(Thresholds[t], 10) == Math.Round(threshold, 10)) return MeanAveragePrecision[t];
        throw new ArgumentOutOfRangeException(nameof(threshold), threshold, $"Not an evaluated threshold; these are {string.Join(", ", Thresholds.Select(Label))}.");
    }

    /// <summary>
    /// The paper-style table: one row per class (<c>Class</c>, <c>GroundTruth</c>, <c>Predictions</c>, <c>AP@θ</c> per
    /// threshold, <c>Average</c> over thresholds) and a last row <c>mAP</c> holding the per-threshold mAP and the average mAP.
    /// </summary>
    public DataFrame ToDataFrame()
    {
        int nc = Classes.Count, nt = Thresholds.Count;
        var cls = new StringDataFrameColumn("Class", Classes.Append("mAP"));
        var gt = new Int32DataFrameColumn("GroundTruth", GroundTruthCounts.Append(GroundTruthCounts.Sum()));
        var pr = new Int32DataFrameColumn("Predictions", PredictionCounts.Append(PredictionCounts.Sum()));
        var df = new DataFrame(cls, gt, pr);
        for (int t = 0; t < nt; t++)
            df.Columns.Add(new DoubleDataFrameColumn("AP@" + Label(Thresholds[t]), AveragePrecision[t].Append(MeanAveragePrecision[t])));
        var avg = new double[nc + 1];
        var perClass = new double[nt];
        for (int c = 0; c < nc; c++)
        {
            for (int t = 0; t < nt; t++) perClass[t] = AveragePrecision[t][c];
            avg[c] = NumpyCompat.Mean(perClass);
        }
        avg[nc] = AverageMeanAveragePrecision;
        df.Columns.Add(new DoubleDataFrameColumn("Average", avg));
        return df;
    }

    private int IndexOfClass(string className)
    {
        for (int c = 0; c < Classes.Count; c++)
            if (Classes[c] == className) return c;
        throw new ArgumentException($"Class '{className}' is not in the ground truth; evaluated classes: {string.Join(", ", Classes)}.", nameof(className));
    }

    private static string Label(double threshold) => Math.Round(threshold, 10).ToString("0.##########", CultureInfo.InvariantCulture);

    /// <inheritdoc/>
    public override string ToString() =>
        string.Join(" ", Thresholds.Select((t, i) => FormattableString.Invariant($"mAP@{Label(t)}={MeanAveragePrecision[i]:0.0000}")))
        + FormattableString.Invariant($" average={AverageMeanAveragePrecision:0.0000}");
}

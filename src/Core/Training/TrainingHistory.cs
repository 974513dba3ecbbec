using Microsoft.Data.Analysis;
using MLNetExtensions.Core.IO;

namespace MLNetExtensions.Core.Training;

/// <summary>Training progress reports as a <see cref="DataFrame"/> (one row per report) and CSV.</summary>
public static class TrainingHistory
{
    /// <summary>
    /// One row per report: <c>Epoch</c>, <c>Step</c>, <c>EpochCompleted</c>, <c>TrainLoss</c>, <c>LearningRate</c>,
    /// <c>ValidationMetric</c> (null when none), <c>ElapsedSeconds</c>, <c>RowsPerSecond</c>,
    /// <c>EtaSeconds</c> (null when unknown), then one column per named loss term (null where a report lacks it).
    /// Pass <see cref="TrainingSummary.History"/> for the per-epoch history, or every report an
    /// <see cref="TorchTrainerOptions.Progress"/> received.
    /// </summary>
    public static DataFrame ToDataFrame(this IEnumerable<TrainingProgress> reports)
    {
        ArgumentNullException.ThrowIfNull(reports);
        var r = reports.ToList();
        var terms = r.Where(p => p.LossTerms != null).SelectMany(p => p.LossTerms!.Keys).Distinct().ToList();
        var columns = new List<DataFrameColumn>
        {
            new Int32DataFrameColumn("Epoch", r.Select(p => p.Epoch)),
            new Int64DataFrameColumn("Step", r.Select(p => p.Step)),
            new BooleanDataFrameColumn("EpochCompleted", r.Select(p => p.EpochCompleted)),
            new DoubleDataFrameColumn("TrainLoss", r.Select(p => p.TrainLoss)),
            new DoubleDataFrameColumn("LearningRate", r.Select(p => p.LearningRate)),
            new DoubleDataFrameColumn("ValidationMetric", r.Select(p => p.ValidationMetric)),
            new DoubleDataFrameColumn("ElapsedSeconds", r.Select(p => p.Elapsed.TotalSeconds)),
            new DoubleDataFrameColumn("RowsPerSecond", r.Select(p => p.RowsPerSecond)),
            new DoubleDataFrameColumn("EtaSeconds", r.Select(p => p.EstimatedRemaining?.TotalSeconds)),
        };
        foreach (var t in terms)
            columns.Add(new DoubleDataFrameColumn("Loss." + t, r.Select(p => p.LossTerms != null && p.LossTerms.TryGetValue(t, out var v) ? v : (double?)null)));
        return new DataFrame(columns);
    }

    /// <summary>Writes <see cref="ToDataFrame"/> as CSV (comma-separated, header row, invariant culture), atomically.</summary>
    public static void SaveCsv(this IEnumerable<TrainingProgress> reports, string path) => DataFrameCsv.Save(reports.ToDataFrame(), path);
}

using Microsoft.Data.Analysis;
using Microsoft.Extensions.Logging;
using Microsoft.ML;
using MLNetExtensions.Core.Logging;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Core.Tuning;
using MLNetExtensions.Tests.Infrastructure;
using MLNetExtensions.Tests.Tuning;
using MLNetExtensions.Transforms.Datasets;
using Xunit;

namespace MLNetExtensions.Tests.Core;

/// <summary>What a service sees of training: the ILogger bridge, throughput/ETA, history and sweeps as DataFrame/CSV.</summary>
public sealed class TrainingReportsTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("mlx-reports");
    public void Dispose() => _dir.Delete(recursive: true);

    private sealed class ListLogger(LogLevel minimum) : ILogger
    {
        public readonly List<(LogLevel Level, string Event, string Text)> Entries = new();
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel level) => level >= minimum;
        public void Log<TState>(LogLevel level, EventId id, TState state, Exception? e, Func<TState, Exception?, string> format)
        { lock (Entries) Entries.Add((level, id.Name ?? "", format(state, e))); }
    }

    private sealed class Sync(Action<TrainingProgress> a) : IProgress<TrainingProgress> { public void Report(TrainingProgress v) => a(v); }

    // One tiny 2-epoch run shared by the tests below (~2 s): 96 rows, batch 32 = 3 steps per epoch.
    private static (List<TrainingProgress> Reports, TrainingSummary Summary, ListLogger Logger, int AfterDispose) Train()
    {
        var ml = new MLContext(seed: 1);
        var logger = new ListLogger(LogLevel.Information);
        var sub = ml.AddLogger(logger);
        var reports = new List<TrainingProgress>();
        var trainer = new TestCnnTrainer(ml, new TestCnnTrainer.Options
        {
            ImageColumnName = "Pixels", MaxEpochs = 2, BatchSize = 32, Seed = 3, LogEveryNSteps = 1, BatchNormRecalibrationBatches = 0,
            Mean = new[] { 0.5f, 0.5f, 0.5f }, Std = new[] { 0.5f, 0.5f, 0.5f }, Progress = new Sync(reports.Add),
        });
        using (trainer.Fit(FashionMnist.Load(ml, FashionMnistSplit.Train, 96))) { }
        sub.Dispose();
        int before = logger.Entries.Count;
        using (new TestCnnTrainer(ml, new TestCnnTrainer.Options { ImageColumnName = "Pixels", MaxEpochs = 1, BatchSize = 32, Seed = 3 })
            .Fit(FashionMnist.Load(ml, FashionMnistSplit.Train, 32))) { }
        return (reports, trainer.LastTrainingSummary!, logger, logger.Entries.Count - before);
    }

    private static readonly Lazy<(List<TrainingProgress> Reports, TrainingSummary Summary, ListLogger Logger, int AfterDispose)> Run = new(Train);

    [Fact]
    public void MLContextLogReachesTheILoggerWithLevelsAndStopsAfterDispose()
    {
        var (_, _, logger, afterDispose) = Run.Value;
        var epochs = logger.Entries.Where(e => e.Text.Contains("epoch 2/2: loss")).ToList();
        Assert.Single(epochs);
        Assert.Equal(LogLevel.Information, epochs[0].Level);
        Assert.Matches(@"^\[[^\]]*Train[^\]]*\] epoch 2/2: loss", epochs[0].Text); // "[source] message"
        Assert.Contains("Train", epochs[0].Event);
        Assert.DoesNotContain(logger.Entries, e => e.Level < LogLevel.Information); // trace lines filtered by IsEnabled
        Assert.Equal(0, afterDispose);
        Assert.Equal(LogLevel.Warning, MLContextLogging.ToLevel(Microsoft.ML.Runtime.ChannelMessageKind.Warning));
        Assert.Equal(LogLevel.Trace, MLContextLogging.ToLevel(Microsoft.ML.Runtime.ChannelMessageKind.Trace));
    }

    [Fact]
    public void ProgressCarriesThroughputAndAnEtaThatReachesZeroAtTheLastStep()
    {
        var (reports, _, _, _) = Run.Value;
        Assert.All(reports, r => Assert.True(r.RowsPerSecond > 0 && r.StepsPerSecond > 0, $"step {r.Step}: {r.RowsPerSecond} rows/s"));
        // 3 steps per epoch; rows/steps = 32 within this run (all batches full).
        Assert.All(reports, r => Assert.Equal(32, r.RowsPerSecond!.Value / r.StepsPerSecond!.Value, 6));
        var last = reports.Last(r => r.EpochCompleted);
        Assert.Equal(6, last.Step);
        Assert.Equal(TimeSpan.Zero, last.EstimatedRemaining);
        var firstEpochEnd = reports.First(r => r.EpochCompleted);
        Assert.True(firstEpochEnd.EstimatedRemaining > TimeSpan.Zero);
        // Half the steps remain after epoch 1: the ETA is the time taken so far, give or take the rate's drift.
        var eta = firstEpochEnd.EstimatedRemaining!.Value.TotalSeconds;
        Assert.InRange(eta, 0.2 * firstEpochEnd.Elapsed.TotalSeconds, 5 * firstEpochEnd.Elapsed.TotalSeconds);
    }

    [Fact]
    public void HistoryBecomesADataFrameAndCsvWithOneRowPerReport()
    {
        var (reports, summary, _, _) = Run.Value;
        var df = summary.History.ToDataFrame();
        Assert.Equal(2, df.Rows.Count);
        Assert.Equal(new[] { 1, 2 }, ((PrimitiveDataFrameColumn<int>)df["Epoch"]).Select(v => v!.Value));
        Assert.Equal(summary.History[1].TrainLoss, (double)df["TrainLoss"][1]!);
        Assert.Null(df["ValidationMetric"][0]); // no validation set
        Assert.Equal(0.0, (double)df["EtaSeconds"][1]!);
        var all = reports.ToDataFrame();
        Assert.Equal(reports.Count, all.Rows.Count);

        var csv = Path.Combine(_dir.FullName, "sub", "history.csv");
        reports.SaveCsv(csv);
        var lines = File.ReadAllLines(csv);
        Assert.Equal("Epoch,Step,EpochCompleted,TrainLoss,LearningRate,ValidationMetric,ElapsedSeconds,RowsPerSecond,EtaSeconds", lines[0]);
        Assert.Equal(reports.Count + 1, lines.Length);
        var back = DataFrame.LoadCsv(csv);
        Assert.Equal(reports[^1].TrainLoss, Convert.ToDouble(back["TrainLoss"][reports.Count - 1]), 5);
    }

    [Fact]
    public void SweepResultBecomesADataFrameAndCsvWithOneRowPerSetting()
    {
        var space = new SearchSpace<ToyOptions>().Values(o => o.Rate, new[] { 1e-3, 1e-2 }, logBase: true).Choice(o => o.Width, 1, 2);
        var result = new OptionsSweep<ToyOptions>(() => new ToyOptions(), space, new GridSearchTuner(),
            (o, t, _) => Math.Log10(o.Rate) + o.Width + 0.1 * t.Repeat) { SeedsPerTrial = 2, MetricName = "score" }.Run();
        var df = result.ToDataFrame();
        Assert.Equal(4, df.Rows.Count);
        Assert.Equal(new[] { "Setting", "Rate", "Width", "Mean", "StdDev", "Count", "Best" }, df.Columns.Select(c => c.Name));
        for (int i = 0; i < 4; i++)
        {
            var s = result.Settings[i];
            Assert.Equal(s.Mean, (double)df["Mean"][i]!, 12);
            Assert.Equal(s.StdDev, (double)df["StdDev"][i]!, 12);
            Assert.Equal(2, (int)df["Count"][i]!);
            Assert.Equal(s == result.Best, (bool)df["Best"][i]!);
        }
        Assert.Equal(1, ((PrimitiveDataFrameColumn<bool>)df["Best"]).Count(b => b == true));
        var csv = Path.Combine(_dir.FullName, "sweep.csv");
        result.SaveCsv(csv);
        Assert.Equal(5, File.ReadAllLines(csv).Length);
        Assert.StartsWith("Setting,Rate,Width,Mean,StdDev,Count,Best", File.ReadAllLines(csv)[0]);
    }
}

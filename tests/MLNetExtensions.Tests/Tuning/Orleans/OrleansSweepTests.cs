using System.Diagnostics;
using MLNetExtensions.Core.Tuning;
using Xunit;

namespace MLNetExtensions.Tests.Tuning.Orleans;

/// <summary>
/// Sweeps on an in-process Orleans cluster (Microsoft.Orleans.TestingHost): a coordinator-only primary silo and
/// worker silos of capacity 1, each with its own copy of the sweep definition.
/// </summary>
public sealed class OrleansSweepTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("mlx-orleans-sweep");
    public void Dispose() => _dir.Delete(recursive: true);
    private string Csv => Path.Combine(_dir.FullName, "sweep.csv");

    private static string[] Rows(string path) => File.ReadAllLines(path).Skip(1).ToArray();
    private static (int, int)[] RowKeys(string path) => Rows(path).Select(l => l.Split(',')).Select(f => (int.Parse(f[0]), int.Parse(f[1]))).ToArray();

    [Fact]
    public async Task EveryTrialRunsOnceOnTheWorkersAndEqualsTheInProcessSweep()
    {
        await using var c = await SweepTestCluster.StartAsync(workers: 2);
        c.Hook.Work = TimeSpan.FromMilliseconds(300);
        var sweep = SweepTestCluster.Definition(c.Hook, "coordinator");
        sweep.ResultsPath = Csv;
        var executor = c.Executor();
        sweep.Executor = executor;
        var distributed = sweep.Run();

        Assert.Equal(8, c.Hook.Started.Count);                                        // every trial ran once
        Assert.Equal(8, c.Hook.Started.Select(s => s.Trial).Distinct().Count());
        Assert.DoesNotContain(c.Hook.Started, s => SweepTestCluster.IsPrimary(s.Worker)); // capacity 0: no trials
        Assert.Equal(2, c.Hook.Started.Select(s => s.Worker).Distinct().Count());     // both workers worked...
        Assert.Equal(2, c.Hook.MaxRunning);                                           // ...at once, one trial each
        Assert.Equal(2, executor.WorkersSeen.Count);
        var keys = RowKeys(Csv);
        Assert.Equal(8, keys.Length);
        Assert.Equal(8, keys.Distinct().Count());                                     // one row per (setting, repeat)
        Assert.All(distributed.Trials, t => Assert.Equal(c.Hook.Started.Single(s => s.Trial == t.SettingIndex * 2 + t.Repeat).Worker, t.Worker));

        var local = SweepTestCluster.Definition(new TrialHook { Work = TimeSpan.Zero }, "local").Run();
        Assert.Equal(local.Trials.Select(t => (t.SettingIndex, t.Repeat, t.Seed, t.Metric)), distributed.Trials.Select(t => (t.SettingIndex, t.Repeat, t.Seed, t.Metric)));
        Assert.Equal(local.Best!.Parameters, distributed.Best!.Parameters);
        Assert.Equal(local.Best.Mean, distributed.Best.Mean);
    }

    [Fact]
    public async Task AFailingTrialIsRecordedWithItsMessageOnceOrStopsTheSweep()
    {
        await using var c = await SweepTestCluster.StartAsync(workers: 2);
        c.Hook.FailSettings.Add(1);
        var sweep = SweepTestCluster.Definition(c.Hook, "coordinator");
        sweep.ResultsPath = Csv;
        sweep.ContinueOnTrialError = true;
        sweep.Executor = c.Executor();
        var result = sweep.Run();
        Assert.Equal(8, c.Hook.Started.Count);                                        // not retried: the seed is fixed
        var failed = result.Trials.Where(t => t.Error != null).ToArray();
        Assert.Equal(new[] { (1, 0), (1, 1) }, failed.Select(t => (t.SettingIndex, t.Repeat)));
        Assert.All(failed, t => { Assert.Equal("InvalidOperationException: boom in setting 1", t.Error); Assert.True(double.IsNaN(t.Metric)); });
        Assert.Contains("boom in setting 1", File.ReadAllText(Csv));

        var strict = SweepTestCluster.Definition(c.Hook, "coordinator");
        strict.Executor = c.Executor();
        var e = Assert.Throws<InvalidOperationException>(() => strict.Run());
        Assert.Contains("boom in setting 1", e.Message);
        Assert.Matches(@"failed on Silo_[12]: InvalidOperationException: boom in setting 1", e.Message); // the worker that ran it
    }

    [Fact]
    public async Task CancellingTheCoordinatorStopsTheTrialsOnTheCluster()
    {
        await using var c = await SweepTestCluster.StartAsync(workers: 2);
        c.Hook.BlockAll = true;
        var sweep = SweepTestCluster.Definition(c.Hook, "coordinator");
        sweep.ResultsPath = Csv;
        sweep.Executor = c.Executor();
        using var cts = new CancellationTokenSource();
        var run = Task.Run(() => sweep.Run(cts.Token));
        await WaitFor(() => c.Hook.Started.Count == 2, TimeSpan.FromSeconds(20));
        var watch = Stopwatch.StartNew();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        await WaitFor(() => c.Hook.Cancelled.Count == 2, TimeSpan.FromSeconds(10));   // both running trials saw the token
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"cancellation took {watch.Elapsed}");
        await Task.Delay(500);
        Assert.Equal(2, c.Hook.Started.Count);                                        // nothing started after it
        Assert.Empty(Rows(Csv));
    }

    [Fact]
    public async Task ACoordinatorRestartResumesFromTheResultsFileAndSkipsFinishedTrials()
    {
        await using var c = await SweepTestCluster.StartAsync(workers: 2);
        var first = SweepTestCluster.Definition(c.Hook, "coordinator");
        first.ResultsPath = Csv;
        first.Executor = c.Executor();
        // The coordinator "dies" after its third recorded trial (an exception out of its own progress handler).
        first.Progress = new SyncProgress(p => { if (p.Completed == 3) throw new InvalidOperationException("coordinator crash"); });
        Assert.Equal("coordinator crash", Assert.Throws<InvalidOperationException>(() => first.Run()).Message);
        Assert.Equal(3, Rows(Csv).Length);
        var done = RowKeys(Csv).ToHashSet();
        await Task.Delay(300); // the cancelled in-flight trials wind down

        var startedBefore = c.Hook.Started.Count;
        var second = SweepTestCluster.Definition(c.Hook, "coordinator");
        second.ResultsPath = Csv;
        second.Executor = c.Executor();                                               // a new coordinator (new run ids)
        var result = second.Run();
        var rerun = c.Hook.Started.Skip(startedBefore).Select(s => s.Trial).ToArray();
        Assert.Equal(5, rerun.Length);                                                // only the 5 unfinished trials
        Assert.DoesNotContain(rerun, t => done.Contains((t / 2, t % 2)));
        Assert.Equal(8, RowKeys(Csv).Distinct().Count());
        Assert.Equal(8, Rows(Csv).Length);
        Assert.Equal(3, result.Trials.Count(t => t.Resumed));
        var local = SweepTestCluster.Definition(new TrialHook { Work = TimeSpan.Zero }, "local").Run();
        Assert.Equal(local.Trials.Select(t => t.Metric), result.Trials.Select(t => t.Metric));
    }

    internal static async Task WaitFor(Func<bool> condition, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > timeout) throw new TimeoutException($"Condition not met within {timeout}.");
            await Task.Delay(25);
        }
    }

    /// <summary>IProgress that reports synchronously (Progress&lt;T&gt; would post to the thread pool and swallow the throw).</summary>
    internal sealed class SyncProgress(Action<SweepProgress> report) : IProgress<SweepProgress>
    {
        public void Report(SweepProgress value) => report(value);
    }
}

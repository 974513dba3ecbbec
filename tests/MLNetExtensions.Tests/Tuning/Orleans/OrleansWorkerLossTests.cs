using MLNetExtensions.Core.Tuning;
using Xunit;

namespace MLNetExtensions.Tests.Tuning.Orleans;

/// <summary>A worker silo killed in the middle of a trial: the trial runs again on another worker, the sweep completes.</summary>
public sealed class OrleansWorkerLossTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("mlx-orleans-loss");
    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public async Task ATrialWhoseSiloIsKilledMidTrialRunsAgainElsewhereAndIsRecordedOnce()
    {
        await using var c = await SweepTestCluster.StartAsync(workers: 2);
        c.Hook.BlockFirstRunOf.Add(0);                                                // trial 0's first run hangs until killed
        var csv = Path.Combine(_dir.FullName, "sweep.csv");
        var sweep = SweepTestCluster.Definition(c.Hook, "coordinator");
        sweep.ResultsPath = csv;
        sweep.Executor = c.Executor();
        var run = Task.Run(() => sweep.Run());

        await OrleansSweepTests.WaitFor(() => c.Hook.Started.Any(s => s.Trial == 0), TimeSpan.FromSeconds(20));
        var victim = c.Hook.Started.First(s => s.Trial == 0).Worker;
        await c.Cluster.KillSiloAsync(c.Silo(victim));
        var result = await run.WaitAsync(TimeSpan.FromSeconds(60));
        c.Hook.ReleaseAll();                                                          // let the killed silo's orphan thread end

        var runsOf0 = c.Hook.Started.Where(s => s.Trial == 0).ToArray();
        Assert.Equal(2, runsOf0.Length);                                              // at least once: run again...
        Assert.NotEqual(victim, runsOf0[1].Worker);                                   // ...on the surviving worker
        var trial0 = result.Trials.Single(t => t.SettingIndex == 0 && t.Repeat == 0);
        Assert.Equal(runsOf0[1].Worker, trial0.Worker);
        Assert.Equal(SweepTestCluster.Score(new ToyOptions { Rate = 1e-4 }, 7), trial0.Metric);
        var keys = File.ReadAllLines(csv).Skip(1).Select(l => l.Split(',')).Select(f => (f[0], f[1])).ToArray();
        Assert.Equal(8, keys.Length);                                                 // exactly once in the file
        Assert.Equal(8, keys.Distinct().Count());
        Assert.All(result.Trials, t => Assert.Null(t.Error));
    }
}

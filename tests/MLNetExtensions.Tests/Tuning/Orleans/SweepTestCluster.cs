using MLNetExtensions.Tests.Infrastructure;
using System.Collections.Concurrent;
using MLNetExtensions.Core.Tuning;
using MLNetExtensions.Tuning.Orleans;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.TestingHost;

namespace MLNetExtensions.Tests.Tuning.Orleans;

/// <summary>
/// An in-process Orleans cluster for sweep tests: a primary silo with no trial capacity (it stands for the
/// coordinator's machine and keeps the cluster's membership) and <c>workers</c> worker silos of capacity 1, each
/// with the sweep <see cref="SweepName"/> registered. The trial callback of every silo calls <see cref="Hook"/> with the
/// silo's name, so a test sees which worker runs what and can block, fail or count trials.
/// </summary>
internal sealed class SweepTestCluster : IAsyncDisposable
{
    public const string SweepName = "toy";

    private SweepTestCluster(InProcessTestCluster cluster, TrialHook hook) { Cluster = cluster; Hook = hook; }

    public InProcessTestCluster Cluster { get; }
    public TrialHook Hook { get; }

    public static async Task<SweepTestCluster> StartAsync(int workers)
    {
        var hook = new TrialHook();
        var builder = new InProcessTestClusterBuilder((short)(workers + 1));
        builder.ConfigureSilo((silo, siloBuilder) =>
        {
            bool primary = IsPrimary(silo.SiloName);
            siloBuilder.AddSweepWorker(o => { o.MaxConcurrentTrialsPerWorker = primary ? 0 : 1; o.TorchThreadsPerTrial = 0; o.Name = silo.SiloName; });
            siloBuilder.AddSweep(SweepName, sp => Definition(hook, silo.SiloName));
            // Fast failure detection: a killed silo is declared dead within a few seconds, not the production ~1 minute.
            siloBuilder.Configure<ClusterMembershipOptions>(o =>
            {
                o.ProbeTimeout = TimeSpan.FromMilliseconds(500 * Slowdown);
                o.NumMissedProbesLimit = 2;
                o.NumVotesForDeathDeclaration = 1;
            });
        });
        var cluster = builder.Build();
        await cluster.DeployAsync();
        var names = cluster.Silos.Select(s => s.Name).ToArray();
        if (names.Count(IsPrimary) != 1) throw new InvalidOperationException($"Expected one primary silo among [{string.Join(", ", names)}].");
        return new SweepTestCluster(cluster, hook);
    }

    // Under MLNETEXT_GC_TORTURE=1 every thread stops for a forced collection thousands of times a second, so probes
    // and calls take far longer; with the fast timings a live worker would be declared dead and its trial re-run
    // (at-least-once, by design), which the exactly-once assertions below would misread as a bug.
    private static int Slowdown => GcTorture.WholeRun ? 10 : 1;

    // InProcessTestCluster names its silos Silo_0, Silo_1, … (TestCluster: Primary, Secondary_1, …).
    public static bool IsPrimary(string siloName) => siloName is "Primary" or "Silo_0";

    /// <summary>The sweep every process builds from the same code: 4 rates × 2 seeds by default, metric from options and seed.</summary>
    public static OptionsSweep<ToyOptions> Definition(TrialHook hook, string worker, int seeds = 2) =>
        new(() => new ToyOptions(), new SearchSpace<ToyOptions>().Values(o => o.Rate, new[] { 1e-4, 1e-3, 1e-2, 1e-1 }, logBase: true),
            new GridSearchTuner(), (o, t, ct) => hook.Evaluate(o, t, worker, ct)) { SeedsPerTrial = seeds, BaseSeed = 7 };

    public static double Score(ToyOptions o, int seed) => Math.Log10(o.Rate) + 0.01 * seed;

    public OrleansTrialExecutor Executor() => new(Cluster.Client, SweepName, new OrleansTrialExecutorOptions
    {
        PollInterval = TimeSpan.FromMilliseconds(50),
        MembershipInterval = TimeSpan.FromMilliseconds(250),
        CallTimeout = TimeSpan.FromSeconds(2 * Slowdown),
        MaxFailedCalls = 2,
        NoWorkerTimeout = TimeSpan.FromSeconds(30),
    });

    public InProcessSiloHandle Silo(string name) => Cluster.Silos.Single(s => s.Name == name);

    public async ValueTask DisposeAsync()
    {
        Hook.ReleaseAll();
        await Cluster.DisposeAsync();
    }
}

/// <summary>What the trials of a test cluster do, and what they saw.</summary>
internal sealed class TrialHook
{
    private int _running, _maxRunning;
    private readonly ManualResetEventSlim _release = new(false);

    public ConcurrentQueue<(int Trial, string Worker)> Started { get; } = new();
    public ConcurrentQueue<(int Trial, string Worker)> Cancelled { get; } = new();
    public int MaxRunning => Volatile.Read(ref _maxRunning);

    /// <summary>Trials that wait for <see cref="ReleaseAll"/> (or cancellation) before scoring; the first run of each only.</summary>
    public HashSet<int> BlockFirstRunOf { get; } = new();
    /// <summary>All runs wait for cancellation (or <see cref="ReleaseAll"/>).</summary>
    public bool BlockAll { get; set; }
    /// <summary>Settings whose evaluation throws.</summary>
    public HashSet<int> FailSettings { get; } = new();
    public TimeSpan Work { get; set; } = TimeSpan.FromMilliseconds(100);

    public void ReleaseAll() => _release.Set();

    public double Evaluate(ToyOptions o, TrialContext t, string worker, CancellationToken ct)
    {
        bool first = !Started.Any(s => s.Trial == t.TrialIndex);
        Started.Enqueue((t.TrialIndex, worker));
        int now = Interlocked.Increment(ref _running);
        int max;
        while ((max = Volatile.Read(ref _maxRunning)) < now && Interlocked.CompareExchange(ref _maxRunning, now, max) != max) { }
        try
        {
            if (BlockAll || (first && BlockFirstRunOf.Contains(t.TrialIndex)))
            {
                // 30 s at most, so a test that goes wrong fails instead of hanging.
                try { _release.Wait(TimeSpan.FromSeconds(30), ct); }
                catch (OperationCanceledException) { Cancelled.Enqueue((t.TrialIndex, worker)); throw; }
            }
            else Thread.Sleep(Work);
            if (FailSettings.Contains(t.SettingIndex)) throw new InvalidOperationException($"boom in setting {t.SettingIndex}");
            return SweepTestCluster.Score(o, t.Seed);
        }
        finally { Interlocked.Decrement(ref _running); }
    }
}

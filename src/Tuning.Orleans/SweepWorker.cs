using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MLNetExtensions.Core.Tuning;
using Orleans.Runtime;
using TorchSharp;

namespace MLNetExtensions.Tuning.Orleans;

/// <summary>
/// Runs the trials sent to this silo, each on its own long-running thread (trials are CPU-bound and block; they must
/// not run on the grain scheduler), at most <see cref="SweepWorkerOptions.MaxConcurrentTrialsPerWorker"/> at once.
/// A singleton of the silo, so runs survive the worker grain's deactivation; disposing it (silo shutdown) cancels them.
/// </summary>
internal sealed class SweepWorker : IDisposable
{
    private readonly SweepRegistry _registry;
    private readonly IServiceProvider _services;
    private readonly SweepWorkerOptions _options;
    private readonly ILogger<SweepWorker> _log;
    private readonly ConcurrentDictionary<string, Run> _runs = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private readonly object _gate = new();

    public SweepWorker(SweepRegistry registry, IServiceProvider services, IOptions<SweepWorkerOptions> options, ILocalSiloDetails silo,
        ILogger<SweepWorker> log)
    {
        _registry = registry;
        _services = services;
        _options = options.Value;
        _log = log;
        if (_options.MaxConcurrentTrialsPerWorker < 0)
            throw new ArgumentOutOfRangeException(nameof(SweepWorkerOptions.MaxConcurrentTrialsPerWorker), _options.MaxConcurrentTrialsPerWorker, "Must be 0 or more.");
        if (_options.TorchThreadsPerTrial < 0)
            throw new ArgumentOutOfRangeException(nameof(SweepWorkerOptions.TorchThreadsPerTrial), _options.TorchThreadsPerTrial, "Must be 0 (leave alone) or more.");
        Name = _options.Name ?? $"{silo.Name}@{silo.SiloAddress.Endpoint}";
    }

    public string Name { get; }

    private sealed class Run(TrialAssignment assignment)
    {
        public TrialAssignment Assignment { get; } = assignment;
        public CancellationTokenSource Cancel { get; } = new();
        public long LastPolled = Stopwatch.GetTimestamp();
        public volatile TrialRunStatus? Result;
    }

    public SweepWorkerInfo Describe() => new(Name, _options.MaxConcurrentTrialsPerWorker, _registry.Names);

    public bool Start(TrialAssignment a)
    {
        ArgumentNullException.ThrowIfNull(a);
        lock (_gate)
        {
            DropOrphans();
            if (_runs.ContainsKey(a.RunId)) return true; // a repeated Start (retried call) is the same run
            if (_stopping.IsCancellationRequested || !_registry.Names.Contains(a.SweepName)) return false;
            if (_runs.Values.Count(r => r.Result == null) >= _options.MaxConcurrentTrialsPerWorker) return false;
            var run = new Run(a);
            _runs[a.RunId] = run;
            var thread = new Thread(() => Execute(run)) { IsBackground = true, Name = $"sweep trial {a.TrialIndex + 1}" };
            thread.Start();
            return true;
        }
    }

    public TrialRunStatus[] Poll(string[] runIds)
    {
        var now = Stopwatch.GetTimestamp();
        var statuses = new TrialRunStatus[runIds.Length];
        for (int i = 0; i < runIds.Length; i++)
        {
            if (!_runs.TryGetValue(runIds[i], out var run)) { statuses[i] = new(runIds[i], TrialRunState.Unknown, double.NaN, 0, null, Name); continue; }
            Interlocked.Exchange(ref run.LastPolled, now);
            var result = run.Result;
            if (result == null) { statuses[i] = new(runIds[i], TrialRunState.Running, double.NaN, 0, null, Name); continue; }
            statuses[i] = result;
            _runs.TryRemove(runIds[i], out _); // handed over once
        }
        return statuses;
    }

    public void Cancel(string[] runIds)
    {
        foreach (var id in runIds)
            if (_runs.TryRemove(id, out var run)) { run.Cancel.Cancel(); _log.LogInformation("{Worker}: cancelled trial {Trial}/{Total} of sweep '{Sweep}'.", Name, run.Assignment.TrialIndex + 1, run.Assignment.TotalTrials, run.Assignment.SweepName); }
    }

    private void DropOrphans()
    {
        var limit = _options.OrphanTimeout;
        foreach (var (id, run) in _runs)
            if (Stopwatch.GetElapsedTime(Interlocked.Read(ref run.LastPolled)) > limit && _runs.TryRemove(id, out _))
            {
                run.Cancel.Cancel();
                _log.LogWarning("{Worker}: trial {Trial} of sweep '{Sweep}' was not polled for {Timeout}; its coordinator is gone, cancelled.", Name, run.Assignment.TrialIndex + 1, run.Assignment.SweepName, limit);
            }
    }

    private void Execute(Run run)
    {
        var a = run.Assignment;
        var watch = Stopwatch.StartNew();
        TrialRunStatus result;
        try
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(run.Cancel.Token, _stopping.Token);
            var runner = _registry.Get(a.SweepName, _services)
                ?? throw new InvalidOperationException($"Sweep '{a.SweepName}' is not registered on worker {Name}.");
            if (_options.TorchThreadsPerTrial > 0) torch.set_num_threads(_options.TorchThreadsPerTrial);
            _log.LogInformation("{Worker}: trial {Trial}/{Total} of sweep '{Sweep}' started (setting {Setting}, seed {Seed}).", Name, a.TrialIndex + 1, a.TotalTrials, a.SweepName, a.SettingIndex, a.Seed);
            var outcome = runner.RunTrial(new TrialRequest(a.SettingIndex, a.Repeat, a.Seed, a.ParameterKey, a.TrialIndex, a.TotalTrials), linked.Token);
            result = new TrialRunStatus(a.RunId, TrialRunState.Finished, outcome.Metric, outcome.Duration.TotalSeconds, outcome.Error, Name);
        }
        catch (OperationCanceledException) when (run.Cancel.IsCancellationRequested || _stopping.IsCancellationRequested)
        {
            _runs.TryRemove(a.RunId, out _);
            _log.LogInformation("{Worker}: trial {Trial}/{Total} of sweep '{Sweep}' stopped by cancellation after {Seconds:F1} s.", Name, a.TrialIndex + 1, a.TotalTrials, a.SweepName, watch.Elapsed.TotalSeconds);
            return;
        }
        catch (Exception e)
        {
            // A definition mismatch, an unregistered sweep, or a cancellation the trial raised itself: a failed trial.
            result = new TrialRunStatus(a.RunId, TrialRunState.Finished, double.NaN, watch.Elapsed.TotalSeconds, $"{e.GetType().Name}: {e.Message}", Name);
        }
        run.Result = result;
        _log.LogInformation("{Worker}: trial {Trial}/{Total} of sweep '{Sweep}' finished in {Seconds:F1} s: {Outcome}.", Name, a.TrialIndex + 1, a.TotalTrials, a.SweepName,
            result.Seconds, result.Error ?? result.Metric.ToString("R", System.Globalization.CultureInfo.InvariantCulture));
    }

    public void Dispose()
    {
        _stopping.Cancel();
        foreach (var run in _runs.Values) run.Cancel.Cancel();
    }
}

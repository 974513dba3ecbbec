using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MLNetExtensions.Core.Tuning;
using Orleans;
using Orleans.Runtime;

namespace MLNetExtensions.Tuning.Orleans;

/// <summary>
/// Runs a sweep's trials on the worker silos of an Orleans cluster. Each active silo whose worker has the sweep
/// registered under <see cref="SweepName"/> gets up to its capacity of trials; silos that join mid-sweep get work at
/// the next membership read; a trial whose worker leaves the cluster (or stops answering) goes back to the queue and
/// runs elsewhere, up to <see cref="OrleansTrialExecutorOptions.MaxAttemptsPerTrial"/> runs. Outcomes go to the sweep
/// one at a time, so the sweep stays the single writer of its results file, which keeps one row per trial.
/// Call <see cref="Execute"/> (through <c>OptionsSweep.Run</c>) from an ordinary thread, never from inside a grain.
/// </summary>
public sealed class OrleansTrialExecutor : ITrialExecutor
{
    private readonly IGrainFactory _grains;
    private readonly OrleansTrialExecutorOptions _options;
    private readonly ILogger _log;
    private readonly string _coordinatorId = Guid.NewGuid().ToString("N")[..12];
    private long _nextRun;

    /// <summary>Creates the executor.</summary>
    /// <param name="grains">The cluster: an <c>IClusterClient</c>, or the <c>IGrainFactory</c> of a silo the coordinator hosts.</param>
    /// <param name="sweepName">The name the workers registered the sweep under (<c>AddSweep(name, …)</c>).</param>
    /// <param name="options">Attempts, intervals, timeouts; null = defaults.</param>
    /// <param name="logger">Receives the per-trial lines (started/finished/re-queued on which worker); null = none.</param>
    public OrleansTrialExecutor(IGrainFactory grains, string sweepName, OrleansTrialExecutorOptions? options = null, ILogger? logger = null)
    {
        _grains = grains ?? throw new ArgumentNullException(nameof(grains));
        if (string.IsNullOrWhiteSpace(sweepName)) throw new ArgumentException("The sweep name must not be empty.", nameof(sweepName));
        SweepName = sweepName;
        _options = options ?? new OrleansTrialExecutorOptions();
        if (_options.MaxAttemptsPerTrial < 1) throw new ArgumentOutOfRangeException(nameof(options), _options.MaxAttemptsPerTrial, "MaxAttemptsPerTrial must be at least 1.");
        if (_options.MaxFailedCalls < 1) throw new ArgumentOutOfRangeException(nameof(options), _options.MaxFailedCalls, "MaxFailedCalls must be at least 1.");
        _log = logger ?? NullLogger.Instance;
    }

    /// <summary>The sweep's name on the workers.</summary>
    public string SweepName { get; }

    /// <inheritdoc/>
    public string Description => $"Orleans cluster, sweep '{SweepName}'";

    /// <summary>Workers seen by the last run (name → capacity); for reports and tests.</summary>
    public IReadOnlyDictionary<string, int> WorkersSeen => _workersSeen;
    private readonly Dictionary<string, int> _workersSeen = new();

    private sealed class Pending(TrialRequest request)
    {
        public TrialRequest Request { get; } = request;
        public int Attempts;
        public string? LastLoss;
    }

    private sealed class Worker(string key, ISweepWorkerGrain grain)
    {
        public string Key { get; } = key;
        public ISweepWorkerGrain Grain { get; } = grain;
        public string Name = key;
        public int Capacity;
        public bool HasSweep;
        public int FailedCalls;
        public readonly Dictionary<string, Pending> Running = new(StringComparer.Ordinal);
    }

    /// <inheritdoc/>
    public void Execute(ISweepTrialRunner sweep, IReadOnlyList<TrialRequest> pending, Action<TrialRequest, TrialOutcome> finished,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pending);
        ArgumentNullException.ThrowIfNull(finished);
        // Sync over async is safe here: the caller is an ordinary thread (no synchronisation context), see the class remarks.
        Task.Run(() => RunAsync(pending, finished, cancellationToken)).GetAwaiter().GetResult();
    }

    private async Task RunAsync(IReadOnlyList<TrialRequest> requests, Action<TrialRequest, TrialOutcome> finished, CancellationToken ct)
    {
        var queue = new LinkedList<Pending>(requests.Select(r => new Pending(r)));
        var workers = new Dictionary<string, Worker>(StringComparer.Ordinal);
        var management = _grains.GetGrain<IManagementGrain>(0);
        long lastMembership = 0;
        var noWorkerSince = Stopwatch.StartNew();
        int remaining = requests.Count;
        _workersSeen.Clear();
        try
        {
            while (remaining > 0)
            {
                ct.ThrowIfCancellationRequested();
                if (lastMembership == 0 || Stopwatch.GetElapsedTime(lastMembership) >= _options.MembershipInterval)
                {
                    await RefreshMembership(management, workers, queue);
                    lastMembership = Stopwatch.GetTimestamp();
                }

                foreach (var w in workers.Values.Where(w => w.Running.Count > 0).ToList())
                {
                    TrialRunStatus[] statuses;
                    try { statuses = await Call(w, w.Grain.Poll(w.Running.Keys.ToArray())); }
                    catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                    {
                        if (++w.FailedCalls >= _options.MaxFailedCalls) Lose(w, workers, queue, $"{_options.MaxFailedCalls} failed calls, last: {e.GetType().Name}: {e.Message}");
                        continue;
                    }
                    w.FailedCalls = 0;
                    foreach (var s in statuses)
                    {
                        if (s.State == TrialRunState.Running || !w.Running.Remove(s.RunId, out var p)) continue;
                        if (s.State == TrialRunState.Unknown) { Requeue(p, queue, $"worker {w.Name} no longer knows the run (restarted?)"); continue; }
                        remaining--;
                        _log.LogInformation("{Trial} finished on {Worker} in {Seconds:F1} s: {Outcome}", p.Request, s.Worker, s.Seconds, s.Error ?? "ok");
                        finished(p.Request, new TrialOutcome(s.Metric, TimeSpan.FromSeconds(s.Seconds), s.Error) { Worker = s.Worker, Attempts = p.Attempts });
                    }
                }

                // Lost trials that used up their attempts are finished as failed.
                for (var node = queue.First; node != null;)
                {
                    var next = node.Next;
                    var p = node.Value;
                    if (p.Attempts >= _options.MaxAttemptsPerTrial)
                    {
                        queue.Remove(node);
                        remaining--;
                        var error = $"WorkerLost: the trial was lost with its worker {p.Attempts} times (last: {p.LastLoss})";
                        _log.LogWarning("{Trial} recorded as failed: {Error}", p.Request, error);
                        finished(p.Request, new TrialOutcome(double.NaN, TimeSpan.Zero, error) { Attempts = p.Attempts });
                    }
                    node = next;
                }

                await Dispatch(workers, queue);

                var usable = workers.Values.Count(w => w.HasSweep && w.Capacity > 0);
                if (usable > 0) noWorkerSince.Restart();
                else if (noWorkerSince.Elapsed > _options.NoWorkerTimeout)
                    throw new TimeoutException($"No worker of the cluster has sweep '{SweepName}' registered with capacity > 0 for {_options.NoWorkerTimeout} " +
                        $"({remaining} trials left). Start workers (AddSweepWorker + AddSweep(\"{SweepName}\", …)).");
                if (remaining > 0) await Task.Delay(_options.PollInterval, ct);
            }
        }
        finally
        {
            // Cancelled, failed or done: nothing of this run keeps running on the cluster.
            var tasks = workers.Values.Where(w => w.Running.Count > 0)
                .Select(w => Swallow(w.Grain.Cancel(w.Running.Keys.ToArray()).WaitAsync(_options.CallTimeout))).ToArray();
            if (tasks.Length > 0)
            {
                _log.LogInformation("Cancelling {Count} running trials.", workers.Values.Sum(w => w.Running.Count));
                await Task.WhenAll(tasks);
            }
        }
    }

    private static async Task Swallow(Task t) { try { await t; } catch { /* best effort: the worker may be gone */ } }

    private async Task<T> Call<T>(Worker w, Task<T> call) => await call.WaitAsync(_options.CallTimeout);

    private async Task RefreshMembership(IManagementGrain management, Dictionary<string, Worker> workers, LinkedList<Pending> queue)
    {
        Dictionary<SiloAddress, SiloStatus> hosts;
        try { hosts = await management.GetHosts(onlyActive: true).WaitAsync(_options.CallTimeout); }
        catch (Exception e) { _log.LogWarning("Reading the cluster's membership failed: {Error}", e.Message); return; }
        var active = hosts.Where(h => h.Value == SiloStatus.Active).Select(h => h.Key.ToParsableString()).ToHashSet(StringComparer.Ordinal);
        foreach (var w in workers.Values.Where(w => !active.Contains(w.Key)).ToList())
            Lose(w, workers, queue, "its silo left the cluster");
        foreach (var key in active.Where(k => !workers.ContainsKey(k)))
        {
            var w = new Worker(key, _grains.GetGrain<ISweepWorkerGrain>(key));
            try
            {
                var info = await Call(w, w.Grain.Describe());
                w.Name = info.Name;
                w.Capacity = info.Capacity;
                w.HasSweep = info.Sweeps.Contains(SweepName, StringComparer.Ordinal);
            }
            catch (Exception e)
            {
                // A silo without the sweep worker services (or not ready yet): asked again at the next membership read.
                _log.LogDebug("Silo {Silo} has no sweep worker yet: {Error}", key, e.Message);
                continue;
            }
            workers[key] = w;
            if (w.HasSweep && w.Capacity > 0)
            {
                _workersSeen[w.Name] = w.Capacity;
                _log.LogInformation("Worker {Worker} joined: {Capacity} trial(s) at once.", w.Name, w.Capacity);
            }
        }
    }

    private void Lose(Worker w, Dictionary<string, Worker> workers, LinkedList<Pending> queue, string why)
    {
        workers.Remove(w.Key);
        if (w.HasSweep && w.Capacity > 0) _log.LogWarning("Worker {Worker} lost ({Why}); {Count} running trial(s) re-queued.", w.Name, why, w.Running.Count);
        foreach (var p in w.Running.Values) Requeue(p, queue, $"{w.Name}: {why}");
        w.Running.Clear();
    }

    private void Requeue(Pending p, LinkedList<Pending> queue, string why)
    {
        p.LastLoss = why;
        queue.AddFirst(p); // lost trials first: the sweep's order is kept as far as possible
        _log.LogWarning("{Trial} re-queued after attempt {Attempt}/{Max}: {Why}", p.Request, p.Attempts, _options.MaxAttemptsPerTrial, why);
    }

    private async Task Dispatch(Dictionary<string, Worker> workers, LinkedList<Pending> queue)
    {
        // Least-loaded first, so trials spread over the workers.
        foreach (var w in workers.Values.Where(w => w.HasSweep).OrderBy(w => (double)w.Running.Count / Math.Max(1, w.Capacity)).ToList())
        {
            while (queue.First != null && w.Running.Count < w.Capacity && workers.ContainsKey(w.Key))
            {
                var p = queue.First.Value;
                if (p.Attempts >= _options.MaxAttemptsPerTrial) break;
                var r = p.Request;
                var runId = $"{_coordinatorId}/{Interlocked.Increment(ref _nextRun)}";
                bool accepted;
                try
                {
                    accepted = await Call(w, w.Grain.Start(new TrialAssignment(runId, SweepName, r.SettingIndex, r.Repeat, r.Seed, r.ParameterKey, r.TrialIndex, r.TotalTrials)));
                }
                catch (Exception e)
                {
                    if (++w.FailedCalls >= _options.MaxFailedCalls) Lose(w, workers, queue, $"{_options.MaxFailedCalls} failed calls, last: {e.GetType().Name}: {e.Message}");
                    break;
                }
                w.FailedCalls = 0;
                if (!accepted) break; // full (orphans of an earlier coordinator) or the sweep went away: try again next round
                queue.RemoveFirst();
                p.Attempts++;
                w.Running[runId] = p;
                _log.LogInformation("{Trial} started on {Worker} (attempt {Attempt}).", r, w.Name, p.Attempts);
            }
        }
    }
}

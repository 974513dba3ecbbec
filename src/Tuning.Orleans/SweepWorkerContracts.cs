using Orleans;

namespace MLNetExtensions.Tuning.Orleans;

/// <summary>What a worker silo offers.</summary>
/// <param name="Name">The worker's name (log lines, <c>TrialRecord.Worker</c>).</param>
/// <param name="Capacity">Trials it runs at once (<see cref="SweepWorkerOptions.MaxConcurrentTrialsPerWorker"/>).</param>
/// <param name="Sweeps">The sweep names registered on it.</param>
[GenerateSerializer, Immutable]
public sealed record SweepWorkerInfo([property: Id(0)] string Name, [property: Id(1)] int Capacity, [property: Id(2)] string[] Sweeps);

/// <summary>A trial sent to a worker.</summary>
[GenerateSerializer, Immutable]
public sealed record TrialAssignment(
    [property: Id(0)] string RunId, [property: Id(1)] string SweepName, [property: Id(2)] int SettingIndex, [property: Id(3)] int Repeat,
    [property: Id(4)] int Seed, [property: Id(5)] string ParameterKey, [property: Id(6)] int TrialIndex, [property: Id(7)] int TotalTrials);

/// <summary>State of a run on a worker.</summary>
public enum TrialRunState
{
    /// <summary>The worker does not know the run (it restarted, or the run was collected already).</summary>
    Unknown,
    /// <summary>Still running.</summary>
    Running,
    /// <summary>Finished (with a metric or an error).</summary>
    Finished,
}

/// <summary>A run's state; metric, duration and error once finished.</summary>
[GenerateSerializer, Immutable]
public sealed record TrialRunStatus([property: Id(0)] string RunId, [property: Id(1)] TrialRunState State, [property: Id(2)] double Metric,
    [property: Id(3)] double Seconds, [property: Id(4)] string? Error, [property: Id(5)] string Worker);

/// <summary>
/// The sweep worker of one silo (keyed by the silo's address, placed on that silo). Trials run on the silo's own
/// threads, outside the grain, so a long trial never blocks the grain and calls stay short: start, poll, cancel.
/// </summary>
public interface ISweepWorkerGrain : IGrainWithStringKey
{
    /// <summary>The worker's name, capacity and registered sweeps.</summary>
    Task<SweepWorkerInfo> Describe();
    /// <summary>Starts a trial; false when the worker is full or does not know the sweep.</summary>
    Task<bool> Start(TrialAssignment assignment);
    /// <summary>States of the given runs; finished runs are handed over once and then forgotten.</summary>
    Task<TrialRunStatus[]> Poll(string[] runIds);
    /// <summary>Cancels the given runs (their trials see the cancellation token).</summary>
    Task Cancel(string[] runIds);
}

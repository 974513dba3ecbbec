namespace MLNetExtensions.Core.Tuning;

/// <summary>
/// Runs a sweep's pending trials: in this process (<see cref="InProcessTrialExecutor"/>, the default) or on other
/// machines (<c>OrleansTrialExecutor</c> of MLNetExtensions.Tuning.Orleans). The sweep stays the only writer of the
/// results file: an executor only reports outcomes, and the sweep records each (setting, repeat) once, so an executor
/// that runs a trial twice (a worker lost mid-trial, at-least-once execution) still gives one row.
/// </summary>
public interface ITrialExecutor
{
    /// <summary>Short description for logs, e.g. <c>in process</c>.</summary>
    string Description { get; }

    /// <summary>
    /// Runs the trials of <paramref name="pending"/> (in any order, possibly concurrently) and calls
    /// <paramref name="finished"/> for each outcome, one call at a time, before returning. When
    /// <paramref name="cancellationToken"/> is cancelled it asks the running trials to stop and throws
    /// <see cref="OperationCanceledException"/>; an exception thrown by <paramref name="finished"/> ends the run and propagates.
    /// </summary>
    /// <param name="sweep">The sweep; an in-process executor calls <see cref="ISweepTrialRunner.RunTrial"/> on it, a
    /// distributed one sends the requests to workers that hold their own copy of the same sweep definition.</param>
    /// <param name="pending">The trials still to run, in the sweep's order.</param>
    /// <param name="finished">Receives each finished trial.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    void Execute(ISweepTrialRunner sweep, IReadOnlyList<TrialRequest> pending, Action<TrialRequest, TrialOutcome> finished,
        CancellationToken cancellationToken);
}

namespace MLNetExtensions.Core.Tuning;

/// <summary>
/// Runs one trial of a sweep in the calling process. <see cref="OptionsSweep{TOptions}"/> implements it; a worker of a
/// distributed executor builds the same sweep (same space, tuner, factory and evaluation, from the application's own
/// code) and calls this for every request it receives, so only the request and the outcome travel, never code.
/// </summary>
public interface ISweepTrialRunner
{
    /// <summary>
    /// Runs the trial: fresh options, the request's setting applied, its seed set, evaluation. An exception of the
    /// evaluation (other than cancellation) is returned as <see cref="TrialOutcome.Error"/>; cancellation throws
    /// <see cref="OperationCanceledException"/>. A request whose setting differs from this sweep's setting at that
    /// index (the worker runs another version of the sweep) throws <see cref="ArgumentException"/> before any work.
    /// </summary>
    TrialOutcome RunTrial(TrialRequest request, CancellationToken cancellationToken = default);
}

namespace MLNetExtensions.Core.Tuning;

/// <summary>
/// The default executor: the trials one after another on the calling thread, cancellation checked before each
/// (the behaviour <see cref="OptionsSweep{TOptions}"/> always had).
/// </summary>
public sealed class InProcessTrialExecutor : ITrialExecutor
{
    /// <summary>The shared instance (the executor has no state).</summary>
    public static InProcessTrialExecutor Instance { get; } = new();

    /// <inheritdoc/>
    public string Description => "in process";

    /// <inheritdoc/>
    public void Execute(ISweepTrialRunner sweep, IReadOnlyList<TrialRequest> pending, Action<TrialRequest, TrialOutcome> finished,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sweep);
        ArgumentNullException.ThrowIfNull(pending);
        ArgumentNullException.ThrowIfNull(finished);
        foreach (var request in pending)
        {
            cancellationToken.ThrowIfCancellationRequested();
            finished(request, sweep.RunTrial(request, cancellationToken));
        }
    }
}

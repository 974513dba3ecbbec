namespace MLNetExtensions.Core.Tuning;

/// <summary>One trial to run: what a worker needs, besides its own copy of the sweep definition.</summary>
/// <param name="SettingIndex">0-based index of the setting in the tuner's sequence.</param>
/// <param name="Repeat">0-based repeat of the setting.</param>
/// <param name="Seed">The seed (<c>BaseSeed + Repeat</c>, fixed by the coordinator).</param>
/// <param name="ParameterKey">The setting's invariant text (<see cref="ParameterSet.Key"/>), checked by the worker against its own setting.</param>
/// <param name="TrialIndex">0-based trial number: <c>SettingIndex × SeedsPerTrial + Repeat</c>.</param>
/// <param name="TotalTrials">Trials in the whole sweep.</param>
public sealed record TrialRequest(int SettingIndex, int Repeat, int Seed, string ParameterKey, int TrialIndex, int TotalTrials)
{
    /// <summary>The row key of the results file: (setting, repeat).</summary>
    public (int Setting, int Repeat) Key => (SettingIndex, Repeat);
    /// <inheritdoc/>
    public override string ToString() => $"trial {TrialIndex + 1}/{TotalTrials} (setting {SettingIndex}, repeat {Repeat}, seed {Seed})";
}

/// <summary>What running a trial gave.</summary>
/// <param name="Metric">The evaluation's result (NaN when it failed).</param>
/// <param name="Duration">Wall time of the evaluation on the machine that ran it.</param>
/// <param name="Error">The failure (<c>ExceptionType: message</c>) when the evaluation threw; else null.</param>
public sealed record TrialOutcome(double Metric, TimeSpan Duration, string? Error)
{
    /// <summary>The worker that ran the trial (null in process).</summary>
    public string? Worker { get; init; }
    /// <summary>Runs of this trial, counting the ones lost with their worker. Default 1.</summary>
    public int Attempts { get; init; } = 1;
    /// <summary>The exception itself when the trial ran in this process (rethrown unchanged when the sweep does not continue on errors).</summary>
    public Exception? Exception { get; init; }
}

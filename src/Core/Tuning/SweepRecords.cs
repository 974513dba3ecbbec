namespace MLNetExtensions.Core.Tuning;

/// <summary>What an evaluation callback knows about the trial it runs.</summary>
/// <param name="TrialIndex">0-based trial number: <c>SettingIndex × SeedsPerTrial + Repeat</c>.</param>
/// <param name="SettingIndex">0-based index of the setting in the tuner's sequence.</param>
/// <param name="Repeat">0-based repeat of the setting (one per seed).</param>
/// <param name="Seed">The seed of this repeat (<c>BaseSeed + Repeat</c>); already set on <c>TorchTrainerOptions.Seed</c>.</param>
/// <param name="Parameters">The setting, already applied to the options.</param>
/// <param name="TotalTrials">Trials in the whole sweep (settings × seeds).</param>
public sealed record TrialContext(int TrialIndex, int SettingIndex, int Repeat, int Seed, ParameterSet Parameters, int TotalTrials);

/// <summary>A finished trial.</summary>
/// <param name="SettingIndex">0-based setting index.</param>
/// <param name="Repeat">0-based repeat (seed) index.</param>
/// <param name="Seed">The seed used.</param>
/// <param name="Parameters">The setting.</param>
/// <param name="Metric">The evaluation's result (NaN for a failed trial).</param>
/// <param name="Duration">Wall time of the evaluation.</param>
/// <param name="Error">The failure message when the trial threw and <c>ContinueOnTrialError</c> was on; else null.</param>
/// <param name="Resumed">True when read back from the results file rather than run now.</param>
public sealed record TrialRecord(int SettingIndex, int Repeat, int Seed, ParameterSet Parameters, double Metric, TimeSpan Duration, string? Error, bool Resumed)
{
    /// <summary>The worker that ran the trial with a distributed executor; null in process and for resumed trials (the CSV does not store it).</summary>
    public string? Worker { get; init; }
}

/// <summary>A setting's metric over its seeds.</summary>
/// <param name="SettingIndex">0-based setting index.</param>
/// <param name="Parameters">The setting.</param>
/// <param name="Mean">Mean metric over the finished repeats (NaN if any repeat failed or gave NaN).</param>
/// <param name="StdDev">Sample standard deviation (n − 1); NaN for a single repeat.</param>
/// <param name="Count">Repeats aggregated.</param>
/// <param name="Metrics">The repeats' metrics, by repeat index.</param>
public sealed record SettingSummary(int SettingIndex, ParameterSet Parameters, double Mean, double StdDev, int Count, IReadOnlyList<double> Metrics)
{
    internal static SettingSummary From(int setting, ParameterSet parameters, IReadOnlyList<double> metrics)
    {
        double mean = metrics.Count == 0 ? double.NaN : metrics.Average();
        double sd = metrics.Count < 2 ? double.NaN : Math.Sqrt(metrics.Sum(m => (m - mean) * (m - mean)) / (metrics.Count - 1));
        return new SettingSummary(setting, parameters, mean, sd, metrics.Count, metrics);
    }
}

/// <summary>Reported after every finished trial.</summary>
/// <param name="Completed">Trials finished, resumed ones included.</param>
/// <param name="Total">Trials in the sweep.</param>
/// <param name="Resumed">Trials read back from the results file at the start.</param>
/// <param name="Trial">The trial that just finished.</param>
/// <param name="Best">The best setting so far among settings with all repeats finished (null before the first).</param>
/// <param name="Elapsed">Time since <c>Run</c> started.</param>
public sealed record SweepProgress(int Completed, int Total, int Resumed, TrialRecord Trial, SettingSummary? Best, TimeSpan Elapsed);

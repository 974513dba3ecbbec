namespace MLNetExtensions.Estimators.Rlhf.Sweep;

/// <summary>
/// The options object of one <see cref="RewardModelSweep"/> trial as the suite's <c>mlContext.Sweeps()</c> machinery sees
/// it: the grid cell (<see cref="Run"/> = "task/rm_id") and the sweep's config hash (one value; a changed config gives a
/// new value and therefore a new results file). The seed is the trial's repeat (<c>SeedsPerTrial</c>).
/// </summary>
public sealed class SweepRunSetting
{
    /// <summary>"task/rm_id", e.g. "relevance/step40".</summary>
    public string Run { get; set; } = "";
    /// <summary>Config hash of the sweep (see <see cref="RewardModelSweepOptions.ConfigHash"/>).</summary>
    public string ConfigHash { get; set; } = "";
}

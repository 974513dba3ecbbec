namespace MLNetExtensions.Tuning.Orleans;

/// <summary>Options of a sweep worker silo (configuration section <c>SweepCluster:Worker</c>).</summary>
public sealed class SweepWorkerOptions
{
    /// <summary>Trials this worker runs at once. 0 = none (a coordinator-only silo). Default 1.</summary>
    public int MaxConcurrentTrialsPerWorker { get; set; } = 1;
    /// <summary>
    /// <c>torch.set_num_threads</c> on each trial's thread before it runs, so concurrent trials do not oversubscribe the
    /// cores (trials × threads ≤ cores). 0 = leave TorchSharp's setting alone (trials without torch). Default 1.
    /// </summary>
    public int TorchThreadsPerTrial { get; set; } = 1;
    /// <summary>The worker's name in log lines and results. Null = <c>&lt;silo name&gt;@&lt;host&gt;:&lt;port&gt;</c>. Default null.</summary>
    public string? Name { get; set; }
    /// <summary>
    /// A run not polled for this long is cancelled and dropped (its coordinator is gone; a restarted coordinator runs
    /// the trial again). Default 2 minutes.
    /// </summary>
    public TimeSpan OrphanTimeout { get; set; } = TimeSpan.FromMinutes(2);
}

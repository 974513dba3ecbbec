namespace MLNetExtensions.Tuning.Orleans;

/// <summary>Options of the coordinator's <see cref="OrleansTrialExecutor"/> (configuration section <c>SweepCluster:Coordinator</c>).</summary>
public sealed class OrleansTrialExecutorOptions
{
    /// <summary>
    /// Runs of one trial before it is recorded as failed, counting runs lost with their worker (a trial that crashes
    /// its worker every time must not take the cluster down one worker after another). A trial whose evaluation
    /// throws is not retried: its seed is fixed, so it would fail again. Default 3.
    /// </summary>
    public int MaxAttemptsPerTrial { get; set; } = 3;
    /// <summary>How often running trials are polled and free workers given work. Default 200 ms.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(200);
    /// <summary>How often the cluster's membership is read (workers that joined or left). Default 1 s.</summary>
    public TimeSpan MembershipInterval { get; set; } = TimeSpan.FromSeconds(1);
    /// <summary>A call to a worker that takes longer counts as a failed call. Default 10 s.</summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary>Failed calls in a row after which a worker counts as lost (its trials are re-queued). Default 3.</summary>
    public int MaxFailedCalls { get; set; } = 3;
    /// <summary>With trials left and no worker for the sweep for this long, the run fails. Default 10 minutes.</summary>
    public TimeSpan NoWorkerTimeout { get; set; } = TimeSpan.FromMinutes(10);
}

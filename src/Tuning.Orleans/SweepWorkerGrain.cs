using Orleans;

namespace MLNetExtensions.Tuning.Orleans;

/// <summary>The grain face of the silo's <see cref="SweepWorker"/>; placed on the silo its key names.</summary>
[SiloTargetedPlacement]
internal sealed class SweepWorkerGrain(SweepWorker worker) : Grain, ISweepWorkerGrain
{
    public Task<SweepWorkerInfo> Describe() => Task.FromResult(worker.Describe());
    public Task<bool> Start(TrialAssignment assignment) => Task.FromResult(worker.Start(assignment));
    public Task<TrialRunStatus[]> Poll(string[] runIds) => Task.FromResult(worker.Poll(runIds));
    public Task Cancel(string[] runIds) { worker.Cancel(runIds); return Task.CompletedTask; }
}

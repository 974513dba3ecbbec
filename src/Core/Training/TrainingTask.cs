using MLNetExtensions.Core.Data.Binding;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Training;

/// <summary>A batch's loss: the total that is back-propagated and, optionally, its named terms (reported per epoch).</summary>
/// <param name="Total">Scalar loss.</param>
/// <param name="Terms">Named parts (e.g. <c>loss_ce</c>, <c>loss_kd</c>), detached or not; null = none.</param>
public sealed record LossTerms(Tensor Total, IReadOnlyDictionary<string, Tensor>? Terms = null)
{
    /// <summary>A loss without named terms.</summary>
    public static implicit operator LossTerms(Tensor total) => new(total);
}

/// <summary>
/// One optimiser of a training step: AdamW over the trained parameters whose names start with
/// <see cref="ParameterPrefix"/> ("" = all), at <see cref="LearningRateMultiplier"/> × the scheduled rate (e.g. a policy
/// and a value model, each with its own). The options' <see cref="TorchTrainerOptions.ParameterGroups"/> rules apply inside.
/// </summary>
public sealed record OptimizerGroup(string Name, string ParameterPrefix = "", double LearningRateMultiplier = 1, double? WeightDecay = null);

/// <summary>
/// What a component plugs into <see cref="TorchTrainingLoop"/>: the trained module (one, or a container of several such
/// as policy + value), modules that stay frozen beside it (a teacher, a reference policy: eval mode, no gradients, not
/// checkpointed), batches, the loss of one batch, validation, and a forward for BatchNorm re-estimation. An abstract class
/// (not an interface with default members) so that a member whose signature drifts no longer compiles instead of being
/// silently replaced by a default.
/// </summary>
public abstract class TrainingTask
{
    /// <summary>The trained module (already on the device); its state dict is what checkpoints hold.</summary>
    public abstract nn.Module Model { get; }
    /// <summary>Modules used in the step but never trained (teacher, frozen reference). Default none.</summary>
    public virtual IReadOnlyList<nn.Module> FrozenModules => Array.Empty<nn.Module>();
    /// <summary>Streams training batches for one epoch.</summary>
    public abstract IEnumerable<HostBatch> TrainBatches(Random? shuffle, CancellationToken token);
    /// <summary>Forward + loss for one batch (inside a dispose scope, model in train mode).</summary>
    public abstract LossTerms Loss(HostBatch batch);
    /// <summary>Validation metric (higher is better), model in eval mode; null when there is no validation set.</summary>
    public abstract double? Validate(CancellationToken token);
    /// <summary>Number of training rows if known without a pass.</summary>
    public abstract long? RowCount { get; }
    /// <summary>Forward only (no loss), used to re-estimate BatchNorm statistics; every task says how its model runs.</summary>
    public abstract void Forward(HostBatch batch);
    /// <summary>Called after every optimisation step with the global step (e.g. PRepBN schedules).</summary>
    public virtual void OnStep(long step, long totalSteps) { }
    /// <summary>
    /// The component's own per-parameter-group rules (e.g. a segmentation recipe's ×10 head learning rate); they apply
    /// after <see cref="TorchTrainerOptions.ParameterGroups"/>, so the user's rules win where both match. Default none.
    /// </summary>
    public virtual IReadOnlyList<ParameterGroupRule>? ParameterGroups => null;
    /// <summary>Training rows skipped so far (a missing label), reported after training. Default 0.</summary>
    public virtual long SkippedRows => 0;
    /// <summary>The optimisers of a step. Default one AdamW over every trained parameter.</summary>
    public virtual IReadOnlyList<OptimizerGroup> Optimizers => new[] { new OptimizerGroup("model") };
}

using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Models;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Transforms.Fustal;
using static TorchSharp.torch;

namespace MLNetExtensions.Estimators.Fustal;

/// <summary>
/// Trains FuSTAL's training-stage student (a TriDet-style anchor-free 1-D detector with SGP blocks, Trident boundary
/// heads, focal + DIoU + MIL losses; note fustal.md §5.1) on pseudo segments, with the EMA distillation phase (§5.2:
/// an EMA copy updated every step; after <see cref="Options.EmaSwitchEpoch"/> the targets are the EMA model's own
/// post-processed predictions), and returns a <see cref="FustalStudentTransformer"/> (multi-class Gaussian soft-NMS, §5.3).
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term>Input columns</term><description>Features: Vector&lt;Single&gt; of T×D; targets PseudoStart/PseudoEnd (Vector&lt;Single&gt;, seconds) and PseudoLabel (Vector&lt;Key&gt;) — the selection's output, or ground truth for an oracle; Label: multi-hot video labels (for the MIL loss)</description></item>
/// <item><term>Output columns</term><description>Score (Vector&lt;Single, K&gt;, MIL video scores), SegmentStart/SegmentEnd/SegmentScore (Vector&lt;Single&gt;), SegmentLabel (Vector&lt;Key&gt;)</description></item>
/// </list>
/// </remarks>
public sealed partial class FustalStudent : TorchTrainerBase<FustalStudent.Options, FustalStudentTransformer>
{
    private FustalStudentTask? _task;

    internal FustalStudent(IHostEnvironment env, Options options) : base(env, options, nameof(FustalStudent)) { }

    /// <summary>Training batches of the last Fit whose targets came from the EMA model (the distillation phase).</summary>
    public long EmaTargetBatches { get; private set; }

    /// <inheritdoc/>
    protected override string Task => FustalStudentTransformer.TaskName;

    /// <inheritdoc/>
    protected override IReadOnlyList<InputSpec> DeclareInputs()
    {
        var o = TrainerOptions;
        var specs = new List<InputSpec>
        {
            new SequenceInputSpec(o.FeatureColumnName, TriDetStudent.FeaturesSlot, o.FeatureSize, o.MaxSnippets),
            new SequenceInputSpec(o.TargetStartColumnName, FustalStudentTask.StartSlot, 1, o.MaxSegments) { AllowEmpty = true, Role = InputRole.Label },
            new SequenceInputSpec(o.TargetEndColumnName, FustalStudentTask.EndSlot, 1, o.MaxSegments) { AllowEmpty = true, Role = InputRole.Label },
            new KeySequenceInputSpec(o.TargetLabelColumnName, FustalStudentTask.ClassSlot, o.MaxSegments) { Role = InputRole.Label },
        };
        if (o.MilWeight > 0) specs.Add(new MultiHotInputSpec(o.LabelColumnName, FustalStudentTask.VideoLabelSlot) { Role = InputRole.Label });
        return specs;
    }

    /// <inheritdoc/>
    protected override int ClassCount(IReadOnlyList<InputSpec> inputs) => inputs.OfType<KeySequenceInputSpec>().Single().Classes;

    /// <inheritdoc/>
    protected override string? ClassNamesColumn => TrainerOptions.TargetLabelColumnName;

    /// <inheritdoc/>
    protected override void CheckInputs(IReadOnlyList<InputSpec> inputs, string what)
    {
        var k = inputs.OfType<KeySequenceInputSpec>().Single();
        if (inputs.OfType<MultiHotInputSpec>().SingleOrDefault() is { } y && y.Classes != k.Classes)
            throw new ArgumentOutOfRangeException(y.Column, $"Column '{y.Column}' ({what}) has {y.Classes} classes; the target segments' column '{k.Column}' has {k.Classes}.");
    }

    /// <inheritdoc/>
    protected override IModelArchitecture Architecture(IReadOnlyList<InputSpec> inputs, int classes) =>
        new StudentArchitecture(TrainerOptions.Network with { FeatureDim = TrainerOptions.FeatureSize, NumClasses = classes }, TrainerOptions.Inference, TrainerOptions.Grid);

    /// <inheritdoc/>
    protected override OutputSpec[] Outputs(IReadOnlyList<InputSpec> inputs, int classes) =>
        FustalStudentTransformer.Outputs(classes, TrainerOptions.OutputColumns with { Score = TrainerOptions.ScoreColumnName });

    /// <inheritdoc/>
    protected override TrainingTask CreateTask(TrainingContext context) => _task = new FustalStudentTask(context, TrainerOptions);

    /// <summary>Serves the EMA weights (the official evaluation loads them), then drops the EMA copy.</summary>
    protected override IModelArchitecture PrepareForServing(TorchNetwork network, IModelArchitecture architecture)
    {
        if (_task != null)
        {
            EmaTargetBatches = _task.EmaTargetBatches;
            if (TrainerOptions.ServeEmaWeights) _task.CopyEmaInto(network.Module);
            _task.Dispose();
            _task = null;
        }
        return architecture;
    }

    /// <inheritdoc/>
    protected override FustalStudentTransformer CreateTransformer(ModelDescription description, TorchNetwork network, Device device) =>
        new(Env, description, network, device);
}

using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Models;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Transforms.Fustal;
using static TorchSharp.torch;

namespace MLNetExtensions.Estimators.Fustal;

/// <summary>
/// Trains FuSTAL's generation-stage teacher (CoLA with in-batch cross-video snippet contrast; Feng et al. 2024,
/// fqhank/FuSTAL CrossVideo-Generator; note fustal.md §3) from video-level labels only, and returns a
/// <see cref="FustalTeacherTransformer"/> that localises: video scores, class activation sequence and §3.5 proposals.
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term>Task</term><description>Weakly-supervised temporal action localisation (teacher / proposal generator)</description></item>
/// <item><term>Input columns</term><description>Features: Vector&lt;Single&gt; of T×D snippet features (T may differ per row); Label: multi-hot video labels (Vector&lt;Key&gt; of the present classes, or a known-size 0/1 Vector&lt;Single&gt;/Vector&lt;Boolean&gt;)</description></item>
/// <item><term>Output columns</term><description>Score (Vector&lt;Single, K&gt;), ClassActivation (Vector&lt;Single&gt; T'×K), SegmentStart/SegmentEnd/SegmentScore (Vector&lt;Single&gt;, seconds), SegmentLabel (Vector&lt;Key&gt;)</description></item>
/// </list>
/// Fit is the shared <see cref="TorchTrainerBase{TOptions, TTransformer}"/>; the step is <see cref="FustalTeacherTask"/>.
/// </remarks>
public sealed partial class FustalTeacher : TorchTrainerBase<FustalTeacher.Options, FustalTeacherTransformer>
{
    internal FustalTeacher(IHostEnvironment env, Options options) : base(env, options, nameof(FustalTeacher)) { }

    /// <summary>Batch slot of the snippet features.</summary>
    internal const string FeaturesSlot = CoLATeacherNetwork.FeaturesSlot;

    /// <inheritdoc/>
    protected override string Task => FustalTeacherTransformer.TaskName;

    /// <inheritdoc/>
    protected override IReadOnlyList<InputSpec> DeclareInputs()
    {
        var o = TrainerOptions;
        return new InputSpec[]
        {
            new SequenceInputSpec(o.FeatureColumnName, FeaturesSlot, o.FeatureSize, o.MaxSnippets),
            new MultiHotInputSpec(o.LabelColumnName, "labels") { Role = InputRole.Label },
        };
    }

    /// <inheritdoc/>
    protected override void CheckInputs(IReadOnlyList<InputSpec> inputs, string what)
    {
        var labels = (MultiHotInputSpec)inputs[1];
        if (labels.Classes < 1) throw new ArgumentOutOfRangeException(labels.Column, $"Column '{labels.Column}' ({what}) has no classes.");
    }

    /// <inheritdoc/>
    protected override IModelArchitecture Architecture(IReadOnlyList<InputSpec> inputs, int classes) =>
        new CoLATeacherArchitecture(TrainerOptions.Config(classes), TrainerOptions.SampledLength, TrainerOptions.Proposals);

    /// <inheritdoc/>
    protected override OutputSpec[] Outputs(IReadOnlyList<InputSpec> inputs, int classes) =>
        FustalTeacherTransformer.Outputs(classes, TrainerOptions.OutputColumns with { Score = TrainerOptions.ScoreColumnName });

    /// <inheritdoc/>
    protected override TrainingTask CreateTask(TrainingContext context) => new FustalTeacherTask(context, TrainerOptions);

    /// <inheritdoc/>
    protected override FustalTeacherTransformer CreateTransformer(ModelDescription description, TorchNetwork network, Device device) =>
        new(Env, description, network, device);
}

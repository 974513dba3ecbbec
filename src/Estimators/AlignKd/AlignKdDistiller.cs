using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Models;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Estimators.VisionLanguage;
using MLNetExtensions.Transforms.AlignKd;
using MLNetExtensions.Transforms.VisionLanguage;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Estimators.AlignKd;

/// <summary>
/// Align-KD (arXiv 2412.01282): trains a smaller student <see cref="MiniVlm"/> on the teacher's columns with
/// L = L_sup + w_kd·L_kd + w_V·L_V + w_att·L_att (<see cref="AlignKdObjective"/>). The teacher is a fitted
/// <see cref="VisionLanguageTransformer"/>; the student shares its tokenizer, vision tower (frozen), vision-token count
/// and splice (the method's precondition). Teacher outputs (logits, Z^T, layer-0 A^T) are computed per batch under
/// no-grad (the teacher is a frozen module: eval, no gradient, not checkpointed). The fitted model is a
/// <see cref="VisionLanguageTransformer"/> of the student.
/// </summary>
public sealed class AlignKdDistiller : TorchTrainerBase<AlignKdDistiller.Options, VisionLanguageTransformer>
{
    /// <summary>Options (defaults: the note's student, d 32, 2 layers, 4 heads; the recommended full objective).</summary>
    public sealed class Options : TorchTrainerOptions
    {
        /// <summary>Creates options (Answer label, no label smoothing).</summary>
        public Options() { LabelColumnName = "Answer"; LabelSmoothing = 0; WeightDecay = 0.01; WarmupSteps = 50; }
        /// <summary>The fitted teacher (required).</summary>
        public VisionLanguageTransformer? Teacher { get; set; }
        /// <summary>Student LM width. Default 32.</summary>
        public int DModel { get; set; } = 32;
        /// <summary>Student LM blocks. Default 2.</summary>
        public int Layers { get; set; } = 2;
        /// <summary>Student LM heads. Default 4.</summary>
        public int Heads { get; set; } = 4;
        /// <summary>Output column of the greedy answer text. Default "PredictedAnswer".</summary>
        public string PredictedAnswerColumnName { get; set; } = "PredictedAnswer";
        /// <summary>The objective (weights, KL, attention block/adapter/reduction, L_V adapter, focus). Default: full Align-KD.</summary>
        public AlignKdObjectiveOptions Objective { get; set; } = new();

        /// <inheritdoc/>
        public override void Validate()
        {
            base.Validate();
            if (Teacher is null) throw new ArgumentNullException(nameof(Teacher), "AlignKdDistiller needs a fitted teacher (Options.Teacher).");
            if (DModel < 1 || Heads < 1 || DModel % Heads != 0) throw new ArgumentOutOfRangeException(nameof(DModel), DModel, $"DModel must be a positive multiple of Heads ({Heads}).");
            if (Layers < 1) throw new ArgumentOutOfRangeException(nameof(Layers), Layers, "Layers must be ≥ 1.");
            ArgumentNullException.ThrowIfNull(Objective, nameof(Objective));
            Objective.Validate();
        }
    }

    private readonly VisionLanguageTransformer _teacher;

    /// <summary>Creates the distiller; invalid options throw here.</summary>
    public AlignKdDistiller(IHostEnvironment env, Options options) : base(env, options, nameof(AlignKdDistiller)) => _teacher = options.Teacher!;

    /// <inheritdoc/>
    protected override string Task => VisionLanguageTrainer.TaskName;
    /// <inheritdoc/>
    protected override string? ClassNamesColumn => null;
    /// <inheritdoc/>
    protected override int ClassCount(IReadOnlyList<InputSpec> inputs) => 0;

    private MiniVlmConfig TeacherConfig => _teacher.Network.Config;

    /// <inheritdoc/>
    protected override IReadOnlyList<InputSpec> DeclareInputs()
    {
        // The teacher's own columns and geometry (same tokenizer, same splice), unresolved again for this data.
        var f = _teacher.Description.Features.ToArray();
        var image = (FloatTensorInputSpec)f.Single(s => s.Slot == MiniVlm.ImageSlot);
        var prompt = (TokenInputSpec)f.Single(s => s.Slot == MiniVlm.PromptSlot);
        return VisionLanguageTrainer.InputSpecs(_teacher.Tokenizer, image.Column, image.Shape, prompt.Column, prompt.MaxLength, prompt.Truncation,
            TrainerOptions.LabelColumnName, TeacherConfig.MaxAnswerTokens);
    }

    /// <inheritdoc/>
    protected override IModelArchitecture Architecture(IReadOnlyList<InputSpec> inputs, int classes)
    {
        var t = TeacherConfig;
        return new MiniVlmConfig(t.VocabSize, TrainerOptions.DModel, TrainerOptions.Layers, TrainerOptions.Heads, 0, t.MaxPositions, t.PooledSide, t.MaxAnswerTokens);
    }

    /// <inheritdoc/>
    protected override OutputSpec[] Outputs(IReadOnlyList<InputSpec> inputs, int classes) =>
        VisionLanguageTransformer.Outputs(TrainerOptions.PredictedAnswerColumnName, TrainerOptions.ScoreColumnName);

    /// <inheritdoc/>
    protected override TrainingTask CreateTask(TrainingContext context)
    {
        var student = (MiniVlm)context.Network.Module;
        student.LoadVisionTower(_teacher.Network.VisionTower);     // the shared frozen tower, as CLIP in MobileVLM
        var t = TeacherConfig;
        var adapters = new AlignKdAdapters(TrainerOptions.Objective, TrainerOptions.Heads, t.Heads, TrainerOptions.DModel, t.DModel);
        adapters.to(context.Device);
        return new AlignKdTask(context, TrainerOptions, _teacher.Network, adapters);
    }

    /// <inheritdoc/>
    protected override VisionLanguageTransformer CreateTransformer(ModelDescription description, TorchNetwork network, Device device) =>
        new(Env, description, network, device, _teacher.Tokenizer);
}

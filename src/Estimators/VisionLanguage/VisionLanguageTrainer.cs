using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Models;
using MLNetExtensions.Core.Text;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Transforms.Datasets;
using MLNetExtensions.Transforms.VisionLanguage;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Estimators.VisionLanguage;

/// <summary>
/// Trains a LLaVA-style mini VLM (<see cref="MiniVlm"/>: frozen conv vision tower, LDPv2 projector, causal LM with the
/// image placeholder spliced in): image (Vector&lt;Single, 1, 56, 56&gt;) + question text → answer text, with the
/// next-token cross-entropy on the answer and eos only. The vision tower is pre-trained as a Fashion-MNIST classifier
/// when none is given, then frozen. The fitted <see cref="VisionLanguageTransformer"/> answers by greedy decoding.
/// </summary>
public sealed class VisionLanguageTrainer : TorchTrainerBase<VisionLanguageTrainer.Options, VisionLanguageTransformer>
{
    /// <summary>Task name stored in the model description.</summary>
    public const string TaskName = "vision-language";

    /// <summary>Options (defaults: the note's teacher, d 64, 3 layers, 4 heads).</summary>
    public sealed class Options : TorchTrainerOptions
    {
        /// <summary>Creates options with this trainer's column defaults (Answer label, no label smoothing).</summary>
        public Options() { LabelColumnName = FashionSceneVqa.AnswerColumn; LabelSmoothing = 0; WeightDecay = 0.01; WarmupSteps = 100; }
        /// <summary>Image column: Vector&lt;Single, 1, 56, 56&gt; in [0, 1] (a 2×2 scene). Default "Image".</summary>
        public string ImageColumnName { get; set; } = FashionSceneVqa.ImageColumn;
        /// <summary>Question text column. Default "Question".</summary>
        public string QuestionColumnName { get; set; } = FashionSceneVqa.QuestionColumn;
        /// <summary>Output column of the greedy answer text. Default "PredictedAnswer".</summary>
        public string PredictedAnswerColumnName { get; set; } = "PredictedAnswer";
        /// <summary>LM width. Default 64.</summary>
        public int DModel { get; set; } = 64;
        /// <summary>LM blocks. Default 3.</summary>
        public int Layers { get; set; } = 3;
        /// <summary>LM heads. Default 4.</summary>
        public int Heads { get; set; } = 4;
        /// <summary>Projector output grid side (vision tokens = side²). Default 4.</summary>
        public int PooledSide { get; set; } = 4;
        /// <summary>Most prompt tokens (bos + placeholder + question); longer questions are cut at the tail. Default 12.</summary>
        public int MaxQuestionTokens { get; set; } = 12;
        /// <summary>Most answer tokens, eos included (training truncates, serving stops there). Default 4.</summary>
        public int MaxAnswerTokens { get; set; } = 4;
        /// <summary>Tokenizer (saved with the model). Default null = the scenes task vocabulary (<see cref="VqaEncoding.SceneTokenizer"/>).</summary>
        public TextTokenizer? Tokenizer { get; set; }
        /// <summary>A pre-trained vision tower (copied, then frozen). Default null = pre-train one on Fashion-MNIST train.</summary>
        public ConvVisionTower? VisionTower { get; set; }
        /// <summary>Pre-training batches of 128 when <see cref="VisionTower"/> is null. Default 940 (note: 4 × 235).</summary>
        public int VisionTowerPretrainSteps { get; set; } = 940;

        /// <inheritdoc/>
        public override void Validate()
        {
            base.Validate();
            if (DModel < 1 || Heads < 1 || DModel % Heads != 0) throw new ArgumentOutOfRangeException(nameof(DModel), DModel, $"DModel must be a positive multiple of Heads ({Heads}).");
            if (Layers < 1) throw new ArgumentOutOfRangeException(nameof(Layers), Layers, "Layers must be ≥ 1.");
            if (MaxQuestionTokens < 3) throw new ArgumentOutOfRangeException(nameof(MaxQuestionTokens), MaxQuestionTokens, "MaxQuestionTokens must be ≥ 3 (bos, image, one word).");
            if (MaxAnswerTokens < 1) throw new ArgumentOutOfRangeException(nameof(MaxAnswerTokens), MaxAnswerTokens, "MaxAnswerTokens must be ≥ 1.");
            if (VisionTowerPretrainSteps < 0) throw new ArgumentOutOfRangeException(nameof(VisionTowerPretrainSteps), VisionTowerPretrainSteps, "VisionTowerPretrainSteps must be ≥ 0.");
            new MiniVlmConfig(10, DModel, Layers, Heads, 0, MaxPositions, PooledSide, MaxAnswerTokens).Validate();
        }

        /// <summary>Longest spliced sequence: prompt + answer − placeholder + vision tokens.</summary>
        public int MaxPositions => MaxQuestionTokens + MaxAnswerTokens - 1 + PooledSide * PooledSide;
    }

    private readonly TextTokenizer _tokenizer;

    /// <summary>Creates the trainer; invalid options throw here.</summary>
    public VisionLanguageTrainer(IHostEnvironment env, Options options) : base(env, options, nameof(VisionLanguageTrainer))
    {
        _tokenizer = options.Tokenizer ?? VqaEncoding.SceneTokenizer();
    }

    /// <summary>The tokenizer the model will be saved with.</summary>
    public TextTokenizer Tokenizer => _tokenizer;

    /// <inheritdoc/>
    protected override string Task => TaskName;

    /// <inheritdoc/>
    protected override string? ClassNamesColumn => null;

    /// <inheritdoc/>
    protected override int ClassCount(IReadOnlyList<InputSpec> inputs) => 0;

    /// <inheritdoc/>
    protected override IReadOnlyList<InputSpec> DeclareInputs()
    {
        var o = TrainerOptions;
        return InputSpecs(_tokenizer, o.ImageColumnName, new long[] { 1, FashionSceneVqa.SceneSide, FashionSceneVqa.SceneSide },
            o.QuestionColumnName, o.MaxQuestionTokens, Core.Data.Binding.TruncationSide.KeepHead, o.LabelColumnName, o.MaxAnswerTokens);
    }

    /// <summary>The VLM's columns: the scene, the question as prompt ids and the answer (label) ids, through one tokenizer.</summary>
    public static IReadOnlyList<InputSpec> InputSpecs(TextTokenizer tokenizer, string imageColumn, long[]? imageShape, string questionColumn,
        int maxQuestionTokens, Core.Data.Binding.TruncationSide truncation, string answerColumn, int maxAnswerTokens) => new InputSpec[]
    {
        new FloatTensorInputSpec(imageColumn, MiniVlm.ImageSlot, imageShape),
        new TokenInputSpec(questionColumn, MiniVlm.PromptSlot, maxQuestionTokens) { Truncation = truncation, Encoder = new VqaPromptEncoder(tokenizer) },
        new TokenInputSpec(answerColumn, VisionLanguageTask.AnswerSlot, maxAnswerTokens) { Role = InputRole.Label, Encoder = new VqaAnswerEncoder(tokenizer) },
    };

    /// <inheritdoc/>
    protected override IModelArchitecture Architecture(IReadOnlyList<InputSpec> inputs, int classes)
    {
        var o = TrainerOptions;
        return new MiniVlmConfig(_tokenizer.VocabularySize, o.DModel, o.Layers, o.Heads, 0, o.MaxPositions, o.PooledSide, o.MaxAnswerTokens);
    }

    /// <inheritdoc/>
    protected override OutputSpec[] Outputs(IReadOnlyList<InputSpec> inputs, int classes) =>
        VisionLanguageTransformer.Outputs(TrainerOptions.PredictedAnswerColumnName, TrainerOptions.ScoreColumnName);

    /// <inheritdoc/>
    protected override TrainingTask CreateTask(TrainingContext context)
    {
        var vlm = (MiniVlm)context.Network.Module;
        var tower = TrainerOptions.VisionTower;
        bool owned = tower is null;
        if (tower is null)
        {
            var (px, lab) = FashionSceneVqa.ReadSource(new MLContext(0), FashionMnistSplit.Train);
            tower = VisionTowerPretraining.Train(px, lab, TrainerOptions.VisionTowerPretrainSteps, seed: TrainerOptions.Seed ?? 0);
        }
        vlm.LoadVisionTower(tower);
        if (owned) tower.Dispose();
        return new VisionLanguageTask(context, TrainerOptions);
    }

    /// <inheritdoc/>
    protected override VisionLanguageTransformer CreateTransformer(ModelDescription description, TorchNetwork network, Device device) =>
        new(Env, description, network, device, _tokenizer);
}

using MLNetExtensions.Core.Text;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Transforms.Rlhf.RewardModels;

namespace MLNetExtensions.Estimators.Rlhf;

/// <summary>
/// Options of <see cref="TextRewardModelTrainer"/>. Defaults follow note §7.2 (Adam-style lr 3e-4, batch 32, d = 64,
/// 2 layers, 4 heads); the paper's recipes use weight decay 0.01 (relevance) / 0.001 (factuality, completeness).
/// </summary>
public sealed class TextRewardModelOptions : TorchTrainerOptions
{
    /// <summary>Creates the options with the reward-model defaults.</summary>
    public TextRewardModelOptions()
    {
        LearningRate = 3e-4;
        MinLearningRate = 0;
        BatchSize = 32;
        WeightDecay = 0.01;
        LabelSmoothing = 0;
        Schedule = LearningRateSchedule.Constant;
        LabelColumnName = "Labels";
    }

    /// <summary>Head and loss (default fine-grained token classification).</summary>
    public TextRewardModelKind Kind { get; set; } = TextRewardModelKind.FineGrained;
    /// <summary>The tokenizer (required; saved with the model). Build one with <see cref="TextTokenizer.Train"/> or <see cref="TextTokenizer.FromVocabulary"/>.</summary>
    public TextTokenizer? Tokenizer { get; set; }
    /// <summary>Prompt (question) text column (default "Prompt").</summary>
    public string PromptColumnName { get; set; } = "Prompt";
    /// <summary>Context (passage) text column (default "Context"); not read when <see cref="IgnoreContext"/>.</summary>
    public string ContextColumnName { get; set; } = "Context";
    /// <summary>
    /// The paper's <c>--ignore_context</c>: the model sees prompt and response only (relevance RM); false reads the
    /// context too (factuality RM). Default true (no context column needed).
    /// </summary>
    public bool IgnoreContext { get; set; } = true;
    /// <summary>Response (answer) text column for the fine-grained kind and for scoring (default "Response"). Sentences end with the separator token.</summary>
    public string ResponseColumnName { get; set; } = "Response";
    /// <summary>Preference kind: preferred response column (default "Chosen").</summary>
    public string ChosenColumnName { get; set; } = "Chosen";
    /// <summary>Preference kind: other response column (default "Rejected").</summary>
    public string RejectedColumnName { get; set; } = "Rejected";
    /// <summary>Output of the fine-grained kind: P(no error) per separator (default "SentenceScores"); the per-response score goes to <c>ScoreColumnName</c>.</summary>
    public string SentenceScoresColumnName { get; set; } = "SentenceScores";
    /// <summary>Token budget of the prompt with bos (default 16; longer prompts keep their tail).</summary>
    public int PromptMaxLength { get; set; } = 16;
    /// <summary>Token budget of the context (default 24).</summary>
    public int ContextMaxLength { get; set; } = 24;
    /// <summary>Token budget of the response with eos (default 32).</summary>
    public int ResponseMaxLength { get; set; } = 32;
    /// <summary>Most labels (separators) per response in the label column (default 16).</summary>
    public int MaxSentences { get; set; } = 16;
    /// <summary>Trunk width (default 64).</summary>
    public int DModel { get; set; } = 64;
    /// <summary>Trunk layers (default 2).</summary>
    public int Layers { get; set; } = 2;
    /// <summary>Attention heads (default 4).</summary>
    public int Heads { get; set; } = 4;
    /// <summary>Feed-forward width (default 128).</summary>
    public int FfnDim { get; set; } = 128;
    /// <summary>
    /// Run the trunk as a bidirectional encoder (every position attends to every real token), as the paper's
    /// Longformer RMs; false = causal. Default false (see docs/reward-model-sweep.md for the measured difference).
    /// </summary>
    public bool Bidirectional { get; set; }
    /// <summary>
    /// A pretrained causal trunk (e.g. <c>sftPolicy.Transformer</c>) whose weights initialise the RM's trunk before step 0,
    /// as RLHF reward models start from a pretrained LM (the paper: Longformer-base; InstructGPT: the SFT model). Its
    /// width, layers, heads, FFN size and vocabulary must equal the RM's; a shorter or longer position table is copied
    /// over the common rows. Null = random initialisation. Default null.
    /// </summary>
    public Transforms.Language.CausalTransformer? PretrainedTrunk { get; set; }
    /// <summary>
    /// Keep a CPU copy of the weights of every recorded dev evaluation in <see cref="TextRewardModelTrainer.LastCheckpointWeights"/>
    /// (the sweep serves any selected step from it without reading the ExCP chain back). Default false.
    /// </summary>
    public bool KeepCheckpointWeights { get; set; }
    /// <summary>Also evaluate the untrained network (step 0) into the checkpoint history (default true; the note's selection always keeps step 0).</summary>
    public bool RecordStepZero { get; set; } = true;

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        if (Tokenizer == null) throw new ArgumentException("TextRewardModelOptions.Tokenizer is required (it is saved with the model): build one with TextTokenizer.Train(texts) or TextTokenizer.FromVocabulary(words).", nameof(Tokenizer));
        foreach (var (n, v) in new[] { (nameof(PromptMaxLength), PromptMaxLength), (nameof(ContextMaxLength), ContextMaxLength), (nameof(ResponseMaxLength), ResponseMaxLength), (nameof(MaxSentences), MaxSentences), (nameof(DModel), DModel), (nameof(Layers), Layers), (nameof(Heads), Heads), (nameof(FfnDim), FfnDim) })
            if (v < 1) throw new ArgumentOutOfRangeException(n, v, $"TextRewardModelOptions.{n} must be ≥ 1.");
        if (PromptMaxLength < 2) throw new ArgumentOutOfRangeException(nameof(PromptMaxLength), PromptMaxLength, "TextRewardModelOptions.PromptMaxLength must be ≥ 2 (bos plus one token).");
        if (ResponseMaxLength < 2) throw new ArgumentOutOfRangeException(nameof(ResponseMaxLength), ResponseMaxLength, "TextRewardModelOptions.ResponseMaxLength must be ≥ 2 (one token plus eos).");
        if (DModel % Heads != 0) throw new ArgumentOutOfRangeException(nameof(Heads), Heads, $"TextRewardModelOptions: DModel {DModel} must be a multiple of Heads.");
    }
}

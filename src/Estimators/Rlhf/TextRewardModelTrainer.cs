using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Models;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Transforms.Rlhf.RewardModels;
using static TorchSharp.torch;

namespace MLNetExtensions.Estimators.Rlhf;

/// <summary>
/// Trains a text reward model (note §3, §7.2) over text columns tokenized by the options' Microsoft.ML.Tokenizers
/// tokenizer (saved with the model):
/// <list type="bullet">
/// <item><see cref="TextRewardModelKind.FineGrained"/>: columns Prompt[, Context], Response (sentences ended by the
/// separator token) and Labels (Vector&lt;Single&gt;, one per separator: 1 = error, 0 = no error); cross-entropy at the
/// separators only; <c>IgnoreContext</c> is the paper's <c>--ignore_context</c> (relevance without the passage,
/// factuality with it);</item>
/// <item><see cref="TextRewardModelKind.Preference"/>: columns Prompt[, Context], Chosen, Rejected; loss
/// −log σ(s_w − s_l); after training, μ and σ of the scores over the training answers normalise <c>Score</c>.</item>
/// </list>
/// With a <c>ValidationSet</c> and <c>ValidateEveryNSteps</c> (the paper's ckpt_every), every validation records dev
/// accuracy (and F1 of the error class) in <see cref="LastCheckpointHistory"/>; with <c>CheckpointEveryNSteps</c> equal
/// to it and <c>CheckpointFormat = new ExcpOptions()</c>, the weights of the same steps go to an ExCP chain.
/// </summary>
public sealed class TextRewardModelTrainer : TorchTrainerBase<TextRewardModelOptions, TextRewardModelTransformer>
{
    internal const string LabelSlot = "labels", ChosenSlot = "chosen", RejectedSlot = "rejected";
    private TextRewardModelTask? _task;

    /// <summary>Creates the trainer (invalid options throw here, naming the option).</summary>
    public TextRewardModelTrainer(IHostEnvironment env, TextRewardModelOptions options) : base(env, options, nameof(TextRewardModelTrainer)) { }

    /// <summary>Dev evaluations of the last <c>Fit</c>, step 0 first when <see cref="TextRewardModelOptions.RecordStepZero"/>.</summary>
    public IReadOnlyList<RewardModelCheckpoint> LastCheckpointHistory { get; private set; } = Array.Empty<RewardModelCheckpoint>();

    /// <summary>
    /// With <see cref="TextRewardModelOptions.KeepCheckpointWeights"/>: step → CPU state dict of that dev evaluation
    /// (the caller owns the tensors); empty otherwise.
    /// </summary>
    public IReadOnlyDictionary<long, Dictionary<string, Tensor>> LastCheckpointWeights { get; private set; } = new Dictionary<long, Dictionary<string, Tensor>>();

    private TextRewardModelServing Serving(double mean = 0, double std = 1)
    {
        var o = TrainerOptions;
        return new TextRewardModelServing(o.Kind, o.PromptColumnName, o.IgnoreContext ? null : o.ContextColumnName, o.ResponseColumnName,
            o.PromptMaxLength, o.ContextMaxLength, o.ResponseMaxLength, mean, std);
    }

    /// <inheritdoc/>
    protected override string Task => TextRewardModelTransformer.TaskName;

    /// <inheritdoc/>
    protected override IReadOnlyList<InputSpec> DeclareInputs()
    {
        var o = TrainerOptions;
        var serving = Serving().Inputs(o.Tokenizer!);
        if (o.Kind == TextRewardModelKind.FineGrained)
            return serving.Append(new SequenceInputSpec(o.LabelColumnName, LabelSlot, 1, o.MaxSentences) { Role = InputRole.Label }).ToList();
        var response = (TokenInputSpec)serving[^1];
        // Chosen and rejected are read only for training (Role = Label): a fitted model scores the Response column.
        return serving.Take(serving.Count - 1)
            .Append(response with { Column = o.ChosenColumnName, Slot = ChosenSlot, Role = InputRole.Label })
            .Append(response with { Column = o.RejectedColumnName, Slot = RejectedSlot, Role = InputRole.Label }).ToList();
    }

    /// <inheritdoc/>
    protected override int ClassCount(IReadOnlyList<InputSpec> inputs) => 0;

    /// <inheritdoc/>
    protected override string? ClassNamesColumn => null;

    /// <inheritdoc/>
    protected override IModelArchitecture Architecture(IReadOnlyList<InputSpec> inputs, int classes)
    {
        var o = TrainerOptions;
        int positions = o.PromptMaxLength + (o.IgnoreContext ? 0 : o.ContextMaxLength) + o.ResponseMaxLength;
        return new TextRewardModelArchitecture(o.Kind, o.Tokenizer!.VocabularySize, o.DModel, o.Layers, o.Heads, o.FfnDim, positions, !o.IgnoreContext, Bidirectional: o.Bidirectional);
    }

    /// <inheritdoc/>
    protected override OutputSpec[] Outputs(IReadOnlyList<InputSpec> inputs, int classes) =>
        TextRewardModelTransformer.Outputs(TrainerOptions.Kind, TrainerOptions.ScoreColumnName, TrainerOptions.SentenceScoresColumnName);

    /// <inheritdoc/>
    protected override TrainingTask CreateTask(TrainingContext context)
    {
        if (TrainerOptions.PretrainedTrunk is { } trunk) CopyTrunk(trunk, context.Network.Module);
        _task = new TextRewardModelTask(context, TrainerOptions);
        LastCheckpointHistory = Array.Empty<RewardModelCheckpoint>();
        LastCheckpointWeights = new Dictionary<long, Dictionary<string, Tensor>>();
        if (TrainerOptions.RecordStepZero && TrainerOptions.ValidationSet != null && !ResumesFromCheckpoint())
        {
            context.Network.Module.eval();
            _task.Validate(TrainerOptions.CancellationToken);
            context.Network.Module.train();
        }
        return _task;
    }

    /// <summary>Copies a pretrained causal trunk into the reward network's <c>transformer.*</c> (position rows in common only).</summary>
    private static void CopyTrunk(Transforms.Language.CausalTransformer trunk, TorchSharp.torch.nn.Module network)
    {
        using var _ = TorchSharp.torch.no_grad();
        var target = network.state_dict();
        foreach (var (k, v) in trunk.state_dict())
        {
            if (!target.TryGetValue("transformer." + k, out var dst))
                throw new ArgumentException($"TextRewardModelOptions.PretrainedTrunk: tensor '{k}' has no counterpart in the reward model's trunk.", nameof(TextRewardModelOptions.PretrainedTrunk));
            if (dst.shape.SequenceEqual(v.shape)) { dst.copy_(v); continue; }
            if (k == "wpe.weight" && dst.shape[1] == v.shape[1])
            {
                long rows = Math.Min(dst.shape[0], v.shape[0]);
                dst.narrow(0, 0, rows).copy_(v.narrow(0, 0, rows));
                continue;
            }
            throw new ArgumentException($"TextRewardModelOptions.PretrainedTrunk: tensor '{k}' is [{string.Join(", ", v.shape)}] but the reward model's is " +
                $"[{string.Join(", ", dst.shape)}]; use the same DModel, Layers, Heads, FfnDim and tokenizer as the pretrained trunk.", nameof(TextRewardModelOptions.PretrainedTrunk));
        }
    }

    // A resumed run starts from trained weights: step 0 is not re-measured then. (The ExCP model card is written
    // before training starts, so it does not count as a checkpoint.)
    private bool ResumesFromCheckpoint() => TrainerOptions.ResumeFromCheckpoint && TrainerOptions.CheckpointDirectory is string d && Directory.Exists(d)
        && Directory.EnumerateFiles(d, "*", SearchOption.AllDirectories).Any(f => Path.GetFileName(f) != Transforms.Excp.ExcpModelCard.FileName);

    /// <inheritdoc/>
    protected override TextRewardModelTransformer CreateTransformer(ModelDescription description, TorchNetwork network, Device device)
    {
        var task = _task!;
        LastCheckpointHistory = task.History.ToArray();
        LastCheckpointWeights = task.Weights;
        var serving = Serving();
        if (TrainerOptions.Kind == TextRewardModelKind.Preference)
        {
            var (mean, std) = task.ScoreStatistics(TrainerOptions.CancellationToken);
            serving = serving with { ScoreMean = mean, ScoreStd = std };
        }
        _task = null;
        return new TextRewardModelTransformer(Env, description, network, device, TrainerOptions.Tokenizer!, serving);
    }
}

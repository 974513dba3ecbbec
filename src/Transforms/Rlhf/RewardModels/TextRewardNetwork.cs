using MLNetExtensions.Transforms.Language;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Rlhf.RewardModels;

/// <summary>
/// A reward model over token slots <c>prompt</c>, optional <c>context</c> and <c>response</c> (each with its
/// <c>.mask</c>): the slots are concatenated, padding holes masked out (the trunk counts positions over real tokens only),
/// and the causal trunk (<c>transformer.*</c>) runs once. A causal trunk suffices for the paper's heads: a separator's
/// label depends on its own sentence and what precedes it, and the preference score pools every state.
/// <list type="bullet">
/// <item><see cref="TextRewardModelKind.FineGrained"/>: <c>score</c> = Linear(D → 2) on the response positions →
/// <c>token_logits</c> (B, Tr, 2) (class 0 = no error, 1 = error) and <c>sep_mask</c> (B, Tr) marking the separators;</item>
/// <item><see cref="TextRewardModelKind.Preference"/>: <c>score</c> = Linear(D → 1) on the mask-weighted mean of the final
/// states → <c>score</c> (B) (note §7.2: "a scalar from the mean-pooled final state").</item>
/// </list>
/// </summary>
public sealed class TextRewardNetwork : nn.Module<Dictionary<string, Tensor>, Dictionary<string, Tensor>>
{
    /// <summary>Slot names.</summary>
    public const string PromptSlot = "prompt", ContextSlot = "context", ResponseSlot = "response", MaskSuffix = ".mask";
    /// <summary>Output names.</summary>
    public const string TokenLogits = "token_logits", SepMask = "sep_mask", ScoreOutput = "score";

    private readonly CausalTransformer transformer;
    private readonly Linear score;
    private readonly Scalar _sep;

    /// <summary>Creates the network (weights from TorchSharp's global generator).</summary>
    public TextRewardNetwork(TextRewardModelArchitecture architecture) : base(nameof(TextRewardNetwork))
    {
        Architecture = architecture;
        transformer = new CausalTransformer(architecture.Trunk);
        score = nn.Linear(architecture.DModel, architecture.Kind == TextRewardModelKind.FineGrained ? 2 : 1);
        _sep = architecture.SeparatorId;
        RegisterComponents();
    }

    /// <summary>The record.</summary>
    public TextRewardModelArchitecture Architecture { get; }

    /// <summary>The trunk.</summary>
    public CausalTransformer Transformer => transformer;

    /// <inheritdoc/>
    public override Dictionary<string, Tensor> forward(Dictionary<string, Tensor> x)
    {
        var slots = Architecture.HasContext ? new[] { PromptSlot, ContextSlot, ResponseSlot } : new[] { PromptSlot, ResponseSlot };
        foreach (var s in slots)
            if (!x.ContainsKey(s) || !x.ContainsKey(s + MaskSuffix))
                throw new KeyNotFoundException($"TextRewardNetwork reads slots {string.Join(", ", slots)} (with {MaskSuffix}); the batch has {string.Join(", ", x.Keys)}.");
        var ids = torch.cat(slots.Select(s => x[s]).ToArray(), 1);
        var mask = torch.cat(slots.Select(s => x[s + MaskSuffix]).ToArray(), 1);
        long total = ids.shape[1];
        if (total > Architecture.MaxPositions)
            throw new ArgumentOutOfRangeException(nameof(x), $"TextRewardNetwork: prompt + context + response slots hold {total} tokens; the model has {Architecture.MaxPositions} positions (lower the MaxLength options or raise MaxPositions).");
        using var run = transformer.Run(ids, attentionMask: mask, causal: !Architecture.Bidirectional);
        var h = run.LastHidden;                                                            // (B, T, D)
        if (Architecture.Kind == TextRewardModelKind.FineGrained)
        {
            long tr = x[ResponseSlot].shape[1];
            var resp = h.narrow(1, total - tr, tr);
            var responseMask = x[ResponseSlot + MaskSuffix];
            return new Dictionary<string, Tensor>
            {
                [TokenLogits] = score.call(resp),
                [SepMask] = x[ResponseSlot].eq(_sep).logical_and(responseMask.gt(RlhfScalars.Zero)),
            };
        }
        var m = mask.to_type(h.dtype).unsqueeze(-1);
        var pooled = (h * m).sum(1) / m.sum(1).clamp_min(RlhfScalars.FloatOne);
        return new Dictionary<string, Tensor> { [ScoreOutput] = score.call(pooled).squeeze(-1) };
    }
}

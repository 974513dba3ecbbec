using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Language;

/// <summary>Token-level log-probabilities and the teacher-forced loss (SFT, PPO ratios, KL to a reference).</summary>
public static class TokenLogProbs
{
    /// <summary>
    /// log softmax(logits)[b, t, targets[b, t]], computed in float32: (B, T, V) logits and (B, T) int64 targets give
    /// (B, T).
    /// </summary>
    public static Tensor Gather(Tensor logits, Tensor targets)
    {
        if (logits.dim() != 3 || targets.dim() != 2 || logits.shape[0] != targets.shape[0] || logits.shape[1] != targets.shape[1])
            throw new ArgumentException($"TokenLogProbs.Gather: logits must be (B, T, V) and targets (B, T); got ({string.Join(", ", logits.shape)}) and ({string.Join(", ", targets.shape)}).");
        using var scope = torch.NewDisposeScope();
        var logp = logits.to_type(ScalarType.Float32).log_softmax(-1);
        return logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// log π(x[t+1] | x[≤t]) of every next token of <paramref name="inputIds"/> (B, T) under <paramref name="model"/>:
    /// (B, T − 1), entry t scoring token t + 1. Where <paramref name="attentionMask"/> marks token t + 1 as padding
    /// the entry is 0. For PPO, multiply by a response mask shifted the same way (see <see cref="ShiftMask"/>).
    /// </summary>
    public static Tensor OfSequence(CausalLm model, Tensor inputIds, Tensor? attentionMask = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (inputIds.dim() != 2 || inputIds.shape[1] < 2)
            throw new ArgumentException($"TokenLogProbs.OfSequence: inputIds must be (B, T ≥ 2), got ({string.Join(", ", inputIds.shape)}).");
        using var scope = torch.NewDisposeScope();
        var logits = model.Logits(inputIds, attentionMask: attentionMask);
        return FromLogits(logits, inputIds, attentionMask).MoveToOuterDisposeScope();
    }

    /// <summary>The same as <see cref="OfSequence"/> from logits (B, T, V) already computed over <paramref name="inputIds"/>.</summary>
    public static Tensor FromLogits(Tensor logits, Tensor inputIds, Tensor? attentionMask = null)
    {
        using var scope = torch.NewDisposeScope();
        long t = inputIds.shape[1];
        var lp = Gather(logits.narrow(1, 0, t - 1), inputIds.narrow(1, 1, t - 1));
        if (attentionMask is not null) lp = lp * ShiftMask(attentionMask).to_type(lp.dtype);
        return lp.MoveToOuterDisposeScope();
    }

    /// <summary>A (B, T) per-token mask shifted to next-token targets: (B, T − 1), entry t = mask[t + 1].</summary>
    public static Tensor ShiftMask(Tensor mask) => mask.narrow(1, 1, mask.shape[1] - 1);

    /// <summary>
    /// Teacher-forced next-token cross-entropy averaged over the target tokens where <paramref name="lossMask"/>
    /// (B, T, over the input positions) is 1 — e.g. the answer tokens only for SFT. Returns a scalar.
    /// </summary>
    public static Tensor NextTokenLoss(Tensor logits, Tensor inputIds, Tensor lossMask)
    {
        using var scope = torch.NewDisposeScope();
        var lp = FromLogits(logits, inputIds);
        var m = ShiftMask(lossMask).to_type(lp.dtype);
        var count = m.sum();
        if (count.item<float>() <= 0)
            throw new ArgumentException("TokenLogProbs.NextTokenLoss: the loss mask selects no target token.");
        return (-(lp * m).sum() / count).MoveToOuterDisposeScope();
    }
}

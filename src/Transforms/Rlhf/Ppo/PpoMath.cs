using MLNetExtensions.Core.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Rlhf.Ppo;

/// <summary>
/// The PPO arithmetic of FineGrainedRLHF's <c>fgrlhf/ppo.py</c> and <c>utils.py</c> (note §4), on (B, T) float32
/// tensors over response positions with a 0/1 mask: masked whitening, the per-token KL penalty, GAE (γ, λ), and the
/// clipped policy and value losses. Every Scalar is rooted (TorchSharp 0.107).
/// </summary>
public static class PpoMath
{
    private static readonly Scalar Eps = 1e-8f;

    /// <summary>Σ(values·mask) / Σ mask.</summary>
    public static Tensor MaskedMean(Tensor values, Tensor mask)
    {
        using var scope = torch.NewDisposeScope();
        return ((values * mask).sum() / mask.sum()).MoveToOuterDisposeScope();
    }

    /// <summary>The masked variance, mean of squared deviations over masked entries (biased, as <c>utils.masked_var</c> without the Bessel correction).</summary>
    public static Tensor MaskedVar(Tensor values, Tensor mask)
    {
        using var scope = torch.NewDisposeScope();
        var centered = values - MaskedMean(values, mask);
        return MaskedMean(centered * centered, mask).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// (x − μ)/√(σ² + 1e-8) over the masked entries; with <paramref name="shiftMean"/> false the mean is added back
    /// (scale only: how ppo.py whitens rewards). Entries outside the mask are returned as 0.
    /// </summary>
    public static Tensor Whiten(Tensor values, Tensor mask, bool shiftMean = true)
    {
        using var scope = torch.NewDisposeScope();
        var mean = MaskedMean(values, mask);
        var w = (values - mean) * torch.rsqrt(MaskedVar(values, mask).add(Eps, ScalarOps.One));
        if (!shiftMean) w = w.Plus(mean);
        return (w * mask).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Per-token rewards r_t = placed reward − β·(log π(a_t) − log π_ref(a_t)) on the mask, and the KL (B, T) itself.
    /// </summary>
    public static (Tensor Rewards, Tensor Kl) PenalizedRewards(Tensor placedRewards, Tensor logProbs, Tensor refLogProbs, Tensor mask, double klCoef)
    {
        using var scope = torch.NewDisposeScope();
        var kl = (logProbs - refLogProbs) * mask;
        var r = (placedRewards - kl.Times((float)klCoef)) * mask;
        return (r.MoveToOuterDisposeScope(), kl.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Generalised advantage estimation backwards over T: δ_t = r_t + γ·V_{t+1} − V_t (V beyond the last masked
    /// position is 0), A_t = δ_t + γλ·A_{t+1}; returns A and the returns A + V, both masked. Right padding only (a
    /// response's real positions come first).
    /// </summary>
    public static (Tensor Advantages, Tensor Returns) Gae(Tensor rewards, Tensor values, Tensor mask, double gamma, double lambda)
    {
        using var scope = torch.NewDisposeScope();
        var v = (values * mask).to_type(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
        var r = (rewards * mask).to_type(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
        var m = mask.to_type(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
        long b = rewards.shape[0], t = rewards.shape[1];
        var adv = new float[v.Length];
        for (long i = 0; i < b; i++)
        {
            double last = 0;
            for (long j = t - 1; j >= 0; j--)
            {
                long k = i * t + j;
                double next = j + 1 < t ? v[k + 1] * m[k + 1] : 0;
                double delta = r[k] + gamma * next - v[k];
                last = (delta + gamma * lambda * last) * m[k];
                adv[k] = (float)last;
            }
        }
        var a = torch.tensor(adv, new[] { b, t }, device: rewards.device);
        var ret = a.Plus(values * mask) * mask;
        return (a.MoveToOuterDisposeScope(), ret.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Clipped surrogate: masked mean of max(−A·ρ, −A·clip(ρ, 1−ε, 1+ε)), ρ = exp(log π − log π_old); also the share of
    /// masked tokens where clipping was active.
    /// </summary>
    public static (Tensor Loss, double ClipFraction) PolicyLoss(Tensor logProbs, Tensor oldLogProbs, Tensor advantages, Tensor mask, double clip)
    {
        using var scope = torch.NewDisposeScope();
        var ratio = (logProbs - oldLogProbs).exp();
        var pg1 = -advantages * ratio;
        var pg2 = -advantages * ratio.Clamp(1 - clip, 1 + clip);
        var loss = MaskedMean(torch.maximum(pg1, pg2), mask);
        double frac = MaskedMean(pg2.gt(pg1).to_type(ScalarType.Float32), mask).item<float>();
        return (loss.MoveToOuterDisposeScope(), frac);
    }

    /// <summary>Clipped value loss: 0.5 · masked mean of max((V − R)², (V_old + clip(V − V_old, ±c) − R)²).</summary>
    public static Tensor ValueLoss(Tensor values, Tensor oldValues, Tensor returns, Tensor mask, double clip)
    {
        using var scope = torch.NewDisposeScope();
        var clipped = oldValues.Plus((values - oldValues).Clamp(-clip, clip));
        var e1 = (values - returns) * (values - returns);
        var e2 = (clipped - returns) * (clipped - returns);
        return MaskedMean(torch.maximum(e1, e2), mask).Times(0.5).MoveToOuterDisposeScope();
    }
}

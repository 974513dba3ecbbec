using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Slab;

/// <summary>Normalisation used in the token-norm slots of a transformer (the paper's comparison axis).</summary>
public enum TokenNormKind
{
    /// <summary>LayerNorm (the baseline; cannot be folded).</summary>
    LayerNorm,
    /// <summary>Plain BatchNorm over tokens in the LN slot ("naive BN"; foldable).</summary>
    BatchNorm,
    /// <summary>RepBN from the start, no LN phase (official DeiT-T-PRepBN / Swin-T-PRepBN builds; foldable).</summary>
    RepBN,
    /// <summary>Progressive LN→RepBN (SLAB; foldable at inference).</summary>
    PRepBN,
}

/// <summary>Builds token norms by kind, so one model constructor covers LN, BN, RepBN and PRepBN.</summary>
public static class TokenNorms
{
    /// <summary>
    /// Creates a norm over <paramref name="channels"/> channels. <paramref name="layerNormEps"/> is the LN eps
    /// (also PRepBN's norm1 eps); <paramref name="bnEps"/> the BN eps; <paramref name="prepbn"/> the schedule options
    /// (its eps fields are overridden by the two eps arguments).
    /// </summary>
    public static nn.Module<Tensor, Tensor> Create(TokenNormKind kind, long channels, double layerNormEps = 1e-5,
        double bnEps = 1e-5, PRepBNOptions? prepbn = null) => kind switch
    {
        TokenNormKind.LayerNorm => nn.LayerNorm(channels, layerNormEps),
        TokenNormKind.BatchNorm => new TokenBatchNorm(channels, bnEps),
        TokenNormKind.RepBN => new RepBN(channels, bnEps),
        TokenNormKind.PRepBN => new PRepBN(channels, (prepbn ?? PRepBNOptions.Vision) with { NormEps = layerNormEps, BnEps = bnEps }),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown token norm kind."),
    };
}

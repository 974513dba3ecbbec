using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Slab;

/// <summary>
/// Plain BatchNorm over tokens placed in the LayerNorm slot (the "naive BN" baseline of the paper):
/// SafeBatchNorm1d over channel C of (B, N, C) tokens, statistics over all B·N tokens. Keys: <c>bn.*</c>.
/// </summary>
public sealed class TokenBatchNorm : nn.Module<Tensor, Tensor>, IFoldableNorm
{
    private readonly SafeBatchNorm1d bn;

    /// <summary>Creates the norm over <paramref name="channels"/> channels.</summary>
    public TokenBatchNorm(long channels, double eps = 1e-5, double momentum = 0.1) : base(nameof(TokenBatchNorm))
    {
        Channels = channels;
        bn = new SafeBatchNorm1d(channels, eps, momentum);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public long Channels { get; }

    /// <summary>The inner BatchNorm1d.</summary>
    public SafeBatchNorm1d BatchNorm => bn;

    /// <summary>Normalises x of shape (B, N, C).</summary>
    public override Tensor forward(Tensor x)
    {
        TokenShape.Check(x, Channels, nameof(TokenBatchNorm));
        using var xt = x.transpose(1, 2);
        using var y = bn.call(xt);
        return y.transpose(1, 2).contiguous();
    }

    /// <inheritdoc/>
    public (Tensor a, Tensor b) GetAffine()
    {
        using var _ = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var a = bn.weight / bn.running_var!.Plus(bn.eps).sqrt();
        var b = bn.bias! - a * bn.running_mean!;
        return (a.detach().MoveToOuterDisposeScope(), b.detach().MoveToOuterDisposeScope());
    }
}

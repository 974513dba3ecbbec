using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.TinyViM;

/// <summary>
/// Per-sample stochastic depth (timm <c>DropPath</c>): in training, zeroes a residual branch for a random subset of the
/// batch and rescales the rest by 1/(1−p); identity in eval or when p = 0 (the official setting).
/// </summary>
public sealed class DropPath : nn.Module<Tensor, Tensor>
{
    private readonly double _p;

    /// <summary>Creates the layer with drop probability <paramref name="p"/>.</summary>
    public DropPath(double p) : base(nameof(DropPath))
    {
        if (p is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(p), p, "Drop-path probability must be in [0, 1).");
        _p = p;
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        if (!training || _p == 0) return x.alias();
        var keep = 1.0 - _p;
        var shape = new long[x.dim()];
        shape[0] = x.shape[0];
        for (var i = 1; i < shape.Length; i++) shape[i] = 1;
        using var mask = torch.empty(shape, dtype: x.dtype, device: x.device).bernoulli_(keep);
        using var scaled = x.div(keep);
        return scaled.mul(mask);
    }
}

using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Layers;

/// <summary>Stochastic depth per sample (timm <c>DropPath</c>): in training, zeroes a whole residual branch with probability p and rescales survivors by 1/(1−p).</summary>
public sealed class DropPath : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the layer with drop probability <paramref name="p"/>.</summary>
    public DropPath(double p) : base(nameof(DropPath))
    {
        if (p < 0 || p >= 1) throw new ArgumentOutOfRangeException(nameof(p), "DropPath probability must lie in [0, 1).");
        P = p;
        _keep = 1 - p;
    }

    // Rooted for the layer's lifetime (a temporary Scalar can be finalised while LibTorch still reads it).
    private readonly Scalar _keep;

    /// <summary>Drop probability.</summary>
    public double P { get; }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        if (!training || P == 0) return x.alias();
        using var scope = torch.NewDisposeScope();
        var shape = new long[x.dim()];
        shape[0] = x.shape[0];
        for (int i = 1; i < shape.Length; i++) shape[i] = 1;
        var keep = torch.empty(shape, x.dtype, x.device).bernoulli_(1 - P).div_(_keep);
        return (x * keep).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) _keep.Dispose();
        base.Dispose(disposing);
    }
}

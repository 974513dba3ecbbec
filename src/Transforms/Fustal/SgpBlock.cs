using MLNetExtensions.Core.Torch;
using MLNetExtensions.Transforms.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Fustal;

/// <summary>LayerNorm over the channels of a (B, C, T) sequence (ActionFormer's <c>LayerNorm</c>).</summary>
public sealed class ChannelLayerNorm : nn.Module<Tensor, Tensor>
{
    private readonly LayerNorm norm;
    /// <summary>Creates the norm over <paramref name="channels"/>.</summary>
    public ChannelLayerNorm(long channels) : base(nameof(ChannelLayerNorm)) { norm = nn.LayerNorm(channels); RegisterComponents(); }
    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => norm.call(x.transpose(1, 2)).transpose(1, 2);
}

/// <summary>TriDet's <c>AffineDropPath</c>: a learnable per-channel scale (initial 1e-4) then drop-path.</summary>
public sealed class AffineDropPath : nn.Module<Tensor, Tensor>
{
    private readonly Parameter scale;
    private readonly DropPath drop;
    /// <summary>Creates the layer over <paramref name="channels"/> with drop probability <paramref name="p"/>.</summary>
    public AffineDropPath(long channels, double p) : base(nameof(AffineDropPath))
    {
        scale = nn.Parameter(ScalarOps.Full(new long[] { 1, channels, 1 }, 1e-4f, ScalarType.Float32));
        drop = new DropPath(p);
        RegisterComponents();
    }
    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => drop.call(scale * x);
}

/// <summary>
/// TriDet's Scalable-Granularity Perception block (<c>SGPBlock</c>): optional max-pool down-sampling, LN, the instant
/// branch <c>fc·ReLU(global_fc(mean_t))</c>, the window branch <c>(convw + convkw)·psi</c> (depth-wise kernels of the
/// window and of the long size), residual with affine drop-path, then GroupNorm-16 → MLP (GELU) residual.
/// </summary>
public sealed class SgpBlock : nn.Module<(Tensor X, Tensor Mask), (Tensor X, Tensor Mask)>
{
    private readonly ChannelLayerNorm ln;
    private readonly GroupNorm gn;
    private readonly Conv1d psi, fc, convw, convkw, global_fc;
    private readonly Sequential mlp;
    private readonly AffineDropPath drop_path_out, drop_path_mlp;
    private readonly MaxPool1d? downsample;
    private readonly int _stride;

    /// <summary>Creates a block of width <paramref name="channels"/>; <paramref name="stride"/> 2 halves the length.</summary>
    public SgpBlock(int channels, int window, double k, int stride, int hidden, double dropPath) : base(nameof(SgpBlock))
    {
        int up = (int)Math.Round((window + 1) * k, MidpointRounding.ToEven);
        if (up % 2 == 0) up++;
        _stride = stride;
        ln = new ChannelLayerNorm(channels);
        gn = nn.GroupNorm(16, channels);
        // TorchSharp 0.107's GroupNorm leaves its affine parameters uninitialised (NaN seen here): PyTorch's ones/zeros.
        using (torch.no_grad()) { nn.init.ones_(gn.weight!); nn.init.zeros_(gn.bias!); }
        psi = nn.Conv1d(channels, channels, window, padding: window / 2, groups: channels);
        fc = nn.Conv1d(channels, channels, 1, groups: channels);
        convw = nn.Conv1d(channels, channels, window, padding: window / 2, groups: channels);
        convkw = nn.Conv1d(channels, channels, up, padding: up / 2, groups: channels);
        global_fc = nn.Conv1d(channels, channels, 1, groups: channels);
        mlp = nn.Sequential(nn.Conv1d(channels, hidden, 1), nn.GELU(), nn.Conv1d(hidden, channels, 1));
        drop_path_out = new AffineDropPath(channels, dropPath);
        drop_path_mlp = new AffineDropPath(channels, dropPath);
        if (stride > 1) downsample = nn.MaxPool1d(stride + 1, stride, (stride + 1) / 2);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override (Tensor X, Tensor Mask) forward((Tensor X, Tensor Mask) input)
    {
        var (x, mask) = input;
        using var scope = NewDisposeScope();
        if (downsample != null)
        {
            long t = x.shape[2];
            x = downsample.call(x);
            mask = nn.functional.interpolate(mask, new long[] { t / _stride }, mode: InterpolationMode.Nearest);
            x = x.narrow(2, 0, t / _stride);
        }
        var o = ln.call(x);
        var phi = nn.functional.relu(global_fc.call(o.mean(new long[] { -1 }, keepdim: true)));
        o = (fc.call(o) * phi).Plus(convw.call(o).Plus(convkw.call(o)) * psi.call(o)).Plus(o);
        o = (x * mask).Plus(drop_path_out.call(o));
        o = o.Plus(drop_path_mlp.call(mlp.call(gn.call(o))));
        return (o.MoveToOuterDisposeScope(), mask.MoveToOuterDisposeScope());
    }
}

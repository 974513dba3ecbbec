using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.TinyViM;

/// <summary>
/// Axial large-kernel depthwise mixer (official <c>Rep_Inception</c>): with g = ⌊c/2⌋, channels [0, c−g) go through
/// <c>dwconv_w</c> (a k×1 kernel, mixing along H) and channels [c−g, c) through <c>dwconv_h</c> (1×k, mixing along W);
/// outputs are concatenated in that order. The names look swapped but are the checkpoint keys; both branches are built
/// for g channels, so c must be even.
/// </summary>
public sealed class RepInception : nn.Module<Tensor, Tensor>, IDeployable
{
    private nn.Module<Tensor, Tensor> dwconv_h;
    private nn.Module<Tensor, Tensor> dwconv_w;
    private readonly long[] _split;

    /// <summary>Creates the mixer for <paramref name="channels"/> channels and axial kernel length <paramref name="kernelMax"/>.</summary>
    public RepInception(long channels, int kernelMax = 7) : base(nameof(RepInception))
    {
        var gc = channels / 2;
        if (channels - gc != gc)
            throw new ArgumentException($"Rep_Inception needs an even channel count (official code applies a {gc}-channel branch to {channels - gc} channels); got {channels}.", nameof(channels));
        dwconv_h = RepDW.Axial(gc, kernelMax, alongWidth: true);
        dwconv_w = RepDW.Axial(gc, kernelMax, alongWidth: false);
        _split = [channels - gc, gc];
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        var parts = x.split(_split, 1);
        try
        {
            using var a = dwconv_w.call(parts[0]);
            using var b = dwconv_h.call(parts[1]);
            return torch.cat([a, b], 1);
        }
        finally
        {
            foreach (var p in parts) p.Dispose();
        }
    }

    /// <inheritdoc />
    public void SwitchToDeploy()
    {
        dwconv_h = Reparameterization.Deploy(this, nameof(dwconv_h), dwconv_h);
        dwconv_w = Reparameterization.Deploy(this, nameof(dwconv_w), dwconv_w);
    }
}

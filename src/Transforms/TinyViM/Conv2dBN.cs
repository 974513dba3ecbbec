using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.TinyViM;

/// <summary>
/// Bias-free Conv2d followed by BatchNorm2d (official <c>Conv2d_BN</c>, a Sequential with children <c>c</c> and
/// <c>bn</c>, so the keys are <c>c.weight</c> and <c>bn.*</c>). Folds into one biased conv.
/// </summary>
public sealed class Conv2dBN : nn.Module<Tensor, Tensor>, IFusable
{
    private readonly Conv2d c;
    private readonly SafeBatchNorm2d bn;
    private readonly (long, long) _stride;
    private readonly (long, long) _padding;
    private readonly long _groups;

    /// <summary>Creates the block (official argument order: in, out, kernel, stride, padding, groups).</summary>
    public Conv2dBN(long inChannels, long outChannels, (long, long) kernel, (long, long) stride, (long, long) padding,
        long groups = 1) : base(nameof(Conv2dBN))
    {
        _stride = stride;
        _padding = padding;
        _groups = groups;
        c = nn.Conv2d(inChannels, outChannels, kernel, stride: stride, padding: padding, groups: groups, bias: false);
        bn = new SafeBatchNorm2d(outChannels);
        RegisterComponents();
    }

    /// <summary>Square-kernel convenience constructor.</summary>
    public Conv2dBN(long inChannels, long outChannels, long kernel = 1, long stride = 1, long padding = 0, long groups = 1)
        : this(inChannels, outChannels, (kernel, kernel), (stride, stride), (padding, padding), groups) { }

    /// <summary>The convolution (key <c>c</c>).</summary>
    public Conv2d Conv => c;

    /// <summary>The BatchNorm (key <c>bn</c>).</summary>
    public SafeBatchNorm2d Norm => bn;

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var y = c.call(x);
        return bn.call(y);
    }

    /// <inheritdoc />
    public Conv2d Fuse()
    {
        using var scope = torch.NewDisposeScope();
        var (w, b) = Reparameterization.FoldBatchNorm(c.weight!, null, bn);
        return Reparameterization.MakeConv(w, b, _stride, _padding, _groups);
    }

    /// <summary>Fused weight and bias as tensors (used by the Rep blocks that add branches before their outer BN).</summary>
    internal (Tensor Weight, Tensor Bias) FusedWeightAndBias() => Reparameterization.FoldBatchNorm(c.weight!, null, bn);
}

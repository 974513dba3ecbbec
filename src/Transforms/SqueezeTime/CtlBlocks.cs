using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MLNetExtensions.Transforms.SqueezeTime;

/// <summary>Pieces shared by the two CTL residual blocks.</summary>
internal static class CtlBlockParts
{
    /// <summary>
    /// Official stride-2 downsample: depthwise 2×2/s2 conv (with bias) + BN on the block input, before the residual
    /// split — the network has no strided 3×3 conv.
    /// </summary>
    public static Sequential? Downsample(long inPlanes, long stride) => stride == 1
        ? null
        : Sequential(Conv2d(inPlanes, inPlanes, 2, stride: 2, groups: inPlanes), new SafeBatchNorm2d(inPlanes));

    /// <summary>Projection shortcut (1×1 conv without bias + BN), built by the stage for its first block when widths differ.</summary>
    public static Sequential Shortcut(long inPlanes, long outPlanes) =>
        Sequential(Conv2d(inPlanes, outPlanes, 1, bias: false), new SafeBatchNorm2d(outPlanes));
}

/// <summary>
/// SqueezeTime Bottleneck CTL block (official <c>Bottleneck</c>, expansion 4):
/// <c>ReLU(BN(1×1(ReLU(BN(CTL(ReLU(BN(1×1(x)))))))) + shortcut(x))</c>, with <c>x</c> first downsampled when the stride is 2.
/// </summary>
public sealed class CtlBottleneck : Module<Tensor, Tensor>
{
    /// <summary>Channel expansion of the block output over its planes.</summary>
    public const int Expansion = 4;

    private readonly Conv2d conv1;
    private readonly SafeBatchNorm2d bn1;
    private readonly ChannelTimeLearning conv2;
    private readonly SafeBatchNorm2d bn2;
    private readonly Conv2d conv3;
    private readonly SafeBatchNorm2d bn3;
    [ComponentName(Name = "shortcut_conv")] private readonly Sequential? shortcutConv;
    private readonly Sequential? downsample;

    /// <summary>Creates the block.</summary>
    /// <param name="inPlanes">Input channels.</param>
    /// <param name="planes">Bottleneck width; the output has <c>4·planes</c> channels.</param>
    /// <param name="stride">1, or 2 for a depthwise 2×2 downsample of the input.</param>
    /// <param name="withShortcut">Project the residual with a 1×1 conv + BN (needed when <c>inPlanes ≠ 4·planes</c>).</param>
    /// <param name="posDim">Side of the CTL positional embedding.</param>
    public CtlBottleneck(long inPlanes, long planes, long stride, bool withShortcut, long posDim) : base(nameof(CtlBottleneck))
    {
        if (!withShortcut && inPlanes != planes * Expansion)
            throw new ArgumentException($"A block without shortcut needs inPlanes = {planes * Expansion}; got {inPlanes}.", nameof(withShortcut));
        conv1 = Conv2d(inPlanes, planes, 1, bias: false);
        bn1 = new SafeBatchNorm2d(planes);
        conv2 = new ChannelTimeLearning(planes, planes, posDim);
        bn2 = new SafeBatchNorm2d(planes);
        conv3 = Conv2d(planes, planes * Expansion, 1, bias: false);
        bn3 = new SafeBatchNorm2d(planes * Expansion);
        shortcutConv = withShortcut ? CtlBlockParts.Shortcut(inPlanes, planes * Expansion) : null;
        downsample = CtlBlockParts.Downsample(inPlanes, stride);
        RegisterComponents();
    }

    /// <summary>The block's CTL module (official <c>conv2</c>).</summary>
    public ChannelTimeLearning Ctl => conv2;

    /// <summary>Input of the CTL module: <c>ReLU(BN(1×1(downsample(x))))</c>.</summary>
    public Tensor CtlInput(Tensor x)
    {
        using var scope = NewDisposeScope();
        return functional.relu(bn1.call(conv1.call(Downsampled(x)))).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = Downsampled(x);
        var u = functional.relu(bn1.call(conv1.call(x)));
        u = functional.relu(bn2.call(conv2.call(u)));
        u = bn3.call(conv3.call(u));
        var residual = shortcutConv is null ? x : shortcutConv.call(x);
        return functional.relu(u.Plus(residual)).MoveToOuterDisposeScope();
    }

    private Tensor Downsampled(Tensor x) => downsample is null ? x : downsample.call(x);
}

/// <summary>
/// SqueezeTime basic CTL block (official <c>BasicBlock</c>, expansion 1): two CTL modules,
/// <c>ReLU(BN(CTL₂(ReLU(BN(CTL₁(x))))) + shortcut(x))</c>. No released checkpoint uses it.
/// </summary>
/// <remarks>Code quirk copied for checkpoint compatibility: the first CTL always has pos_dim 7, whatever the stage setting.</remarks>
public sealed class CtlBasicBlock : Module<Tensor, Tensor>
{
    /// <summary>Channel expansion of the block output over its planes.</summary>
    public const int Expansion = 1;

    /// <summary>pos_dim of the first CTL module in the official code (the factory default).</summary>
    public const int FirstCtlPosDim = 7;

    private readonly ChannelTimeLearning conv1;
    private readonly SafeBatchNorm2d bn1;
    private readonly ChannelTimeLearning conv2;
    private readonly SafeBatchNorm2d bn2;
    [ComponentName(Name = "shortcut_conv")] private readonly Sequential? shortcutConv;
    private readonly Sequential? downsample;

    /// <summary>Creates the block.</summary>
    /// <param name="inPlanes">Input channels.</param>
    /// <param name="planes">Output channels.</param>
    /// <param name="stride">1, or 2 for a depthwise 2×2 downsample of the input.</param>
    /// <param name="withShortcut">Project the residual with a 1×1 conv + BN (needed when <c>inPlanes ≠ planes</c>).</param>
    /// <param name="posDim">Side of the second CTL's positional embedding.</param>
    public CtlBasicBlock(long inPlanes, long planes, long stride, bool withShortcut, long posDim) : base(nameof(CtlBasicBlock))
    {
        if (!withShortcut && inPlanes != planes)
            throw new ArgumentException($"A block without shortcut needs inPlanes = {planes}; got {inPlanes}.", nameof(withShortcut));
        conv1 = new ChannelTimeLearning(inPlanes, planes, FirstCtlPosDim);
        bn1 = new SafeBatchNorm2d(planes);
        conv2 = new ChannelTimeLearning(planes, planes, posDim);
        bn2 = new SafeBatchNorm2d(planes);
        shortcutConv = withShortcut ? CtlBlockParts.Shortcut(inPlanes, planes) : null;
        downsample = CtlBlockParts.Downsample(inPlanes, stride);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        if (downsample is not null) x = downsample.call(x);
        var u = functional.relu(bn1.call(conv1.call(x)));
        u = bn2.call(conv2.call(u));
        var residual = shortcutConv is null ? x : shortcutConv.call(x);
        return functional.relu(u.Plus(residual)).MoveToOuterDisposeScope();
    }
}

using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MLNetExtensions.Transforms.SqueezeTime;

/// <summary>
/// Channel-Time Learning (CTL) module (official class <c>Conv2d</c>, built by the factory <c>conv3x3x3</c>):
/// <c>y = TFC(β ⊙ x) + IOI(x, β)</c> with the temporal importance <c>β = σ(W₂·ReLU(BN(W₁·GAP(x))))</c>.
/// Channels carry time after the squeeze, so β re-weights frames×colours.
/// </summary>
/// <remarks>
/// Follows the code, not the paper summary: β's two 1×1 convs have no channel reduction and no bias, and the
/// temporal-focus conv is 1×1 (the factory hard-wires kernel 1 despite its name).
/// </remarks>
public sealed class ChannelTimeLearning : Module<Tensor, Tensor>
{
    [ComponentName(Name = "param_conv")] private readonly Sequential paramConv;
    [ComponentName(Name = "temporal_conv")] private readonly Conv2d temporalConv;
    [ComponentName(Name = "spatial_conv")] private readonly InterTemporalObjectInteraction spatialConv;

    /// <summary>Creates a CTL module.</summary>
    /// <param name="inChannels">Input channels C.</param>
    /// <param name="outChannels">Output channels C'.</param>
    /// <param name="posDim">Side of the IOI positional embedding.</param>
    public ChannelTimeLearning(long inChannels, long outChannels, long posDim) : base(nameof(ChannelTimeLearning))
    {
        paramConv = Sequential(
            AdaptiveAvgPool2d(1),
            Conv2d(inChannels, inChannels, 1, bias: false),
            new SafeBatchNorm2d(inChannels),
            ReLU(),
            Conv2d(inChannels, inChannels, 1, bias: false),
            Sigmoid());
        temporalConv = Conv2d(inChannels, outChannels, 1, bias: false);
        spatialConv = new InterTemporalObjectInteraction(inChannels, outChannels, posDim);
        RegisterComponents();
    }

    /// <summary>Temporal importance β (N, C, 1, 1) of an input (N, C, H, W).</summary>
    public Tensor TemporalImportance(Tensor x) => paramConv.call(x);

    /// <summary>Both branches separately: the temporal-focus conv (TFC) and the IOI branch; their sum is the output.</summary>
    public (Tensor Tfc, Tensor Ioi) ForwardBranches(Tensor x)
    {
        using var beta = TemporalImportance(x);
        using var gated = beta * x;
        return (temporalConv.call(gated), spatialConv.call(x, beta));
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        var (tfc, ioi) = ForwardBranches(x);
        using (tfc)
        using (ioi)
            return tfc.Plus(ioi);
    }
}

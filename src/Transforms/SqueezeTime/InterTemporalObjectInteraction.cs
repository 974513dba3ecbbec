using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MLNetExtensions.Transforms.SqueezeTime;

/// <summary>
/// Inter-temporal Object Interaction (IOI) branch of the CTL module (official class <c>SpatialConv</c>):
/// <c>short_conv(x) ⊙ σ(gate(β ⊙ x + pos))</c>, where the gate is 3×3 conv → BN → ReLU → (+ positional embedding)
/// → 7×7 conv → BN → ReLU → 3×3 conv → sigmoid.
/// </summary>
public sealed class InterTemporalObjectInteraction : Module<Tensor, Tensor, Tensor>
{
    // Index in glo_conv before which the positional embedding is added (after the first BN + ReLU), as in the official loop.
    private const int PosEmbedSlot = 3;

    [ComponentName(Name = "short_conv")] private readonly Conv2d shortConv;
    // A ModuleList (not Sequential) because the embedding is injected between its elements; keys stay glo_conv.0 … glo_conv.7.
    [ComponentName(Name = "glo_conv")] private readonly ModuleList<Module<Tensor, Tensor>> gloConv;
    [ComponentName(Name = "pos_embed")] private readonly Parameter posEmbed;

    /// <summary>Creates the branch.</summary>
    /// <param name="inChannels">Input channels C.</param>
    /// <param name="outChannels">Output channels C'.</param>
    /// <param name="posDim">Side q of the square positional embedding (1×16×q×q).</param>
    public InterTemporalObjectInteraction(long inChannels, long outChannels, long posDim)
        : base(nameof(InterTemporalObjectInteraction))
    {
        const long hidden = SqueezeTimeConfig.GateHiddenChannels;
        shortConv = Conv2d(inChannels, outChannels, 3, padding: 1);
        gloConv = new ModuleList<Module<Tensor, Tensor>>(
            Conv2d(inChannels, hidden, 3, padding: 1),
            new SafeBatchNorm2d(hidden),
            ReLU(),
            Conv2d(hidden, hidden, 7, padding: 3),
            new SafeBatchNorm2d(hidden),
            ReLU(),
            Conv2d(hidden, outChannels, 3, padding: 1),
            Sigmoid());
        posEmbed = new Parameter(zeros(1, hidden, posDim, posDim));
        using (no_grad()) init.kaiming_normal_(posEmbed, mode: init.FanInOut.FanOut, nonlinearity: init.NonlinearityType.ReLU);
        RegisterComponents();
    }

    /// <summary>Side of the square positional embedding.</summary>
    public long PosDim => posEmbed.shape[2];

    /// <summary>Applies the branch.</summary>
    /// <param name="x">Un-gated input (N, C, H, W); <c>short_conv</c> sees it as is.</param>
    /// <param name="beta">Temporal importance (N, C, 1, 1) that gates the input of the attention path.</param>
    public override Tensor forward(Tensor x, Tensor beta)
    {
        using var scope = NewDisposeScope();
        var xShort = shortConv.call(x);
        var g = x * beta;
        for (var i = 0; i < gloConv.Count; i++)
        {
            if (i == PosEmbedSlot) g = g.Plus(ResizedPosEmbed(g.shape[2], g.shape[3]));
            g = gloConv[i].call(g);
        }
        return (xShort * g).MoveToOuterDisposeScope();
    }

    // Official: bilinear with align_corners=True, skipped only when both sides already match.
    private Tensor ResizedPosEmbed(long h, long w) =>
        posEmbed.shape[2] == h && posEmbed.shape[3] == w
            ? posEmbed
            : functional.interpolate(posEmbed, new[] { h, w }, mode: InterpolationMode.Bilinear, align_corners: true);
}

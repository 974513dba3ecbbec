using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MLNetExtensions.Transforms.SqueezeTime;

/// <summary>
/// The SqueezeTime 2D network (official class <c>ResNet</c> in <c>SqueezeTime.py</c>): squeezes time into channels,
/// then a 5×5/s2 stem, a 3×3/s2 max-pool and four stages of CTL residual blocks.
/// </summary>
public sealed class SqueezeTimeResNet : Module<Tensor, Tensor>
{
    private readonly SqueezeTimeConfig config;
    private readonly Conv2d conv1;
    private readonly SafeBatchNorm2d bn1;
    private readonly MaxPool2d maxpool;
    private readonly Sequential layer1;
    private readonly Sequential layer2;
    private readonly Sequential layer3;
    private readonly Sequential layer4;

    /// <summary>Builds the network for a configuration (weights initialised as in the official constructor).</summary>
    public SqueezeTimeResNet(SqueezeTimeConfig config) : base(nameof(SqueezeTimeResNet))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        this.config = config;
        var widths = config.StageWidths;
        conv1 = Conv2d(config.InputChannels, widths[0], 5, stride: 2, padding: 2, bias: false);
        bn1 = new SafeBatchNorm2d(widths[0]);
        maxpool = MaxPool2d(3, stride: 2, padding: 1);
        long inPlanes = widths[0];
        layer1 = MakeLayer(ref inPlanes, 0);
        layer2 = MakeLayer(ref inPlanes, 1);
        layer3 = MakeLayer(ref inPlanes, 2);
        layer4 = MakeLayer(ref inPlanes, 3);
        RegisterComponents();

        // Official init: Kaiming-normal (fan_out, relu) on every conv weight (CTL and IOI convs included); BN is 1/0
        // already; conv biases keep PyTorch's default init.
        using (no_grad())
        {
            foreach (var (_, m) in named_modules())
                if (m is Conv2d conv) init.kaiming_normal_(conv.weight, mode: init.FanInOut.FanOut, nonlinearity: init.NonlinearityType.ReLU);
        }
    }

    /// <summary>The configuration this network was built from.</summary>
    public SqueezeTimeConfig Config => config;

    private Sequential MakeLayer(ref long inPlanes, int stage)
    {
        long planes = config.StageWidths[stage];
        long outPlanes = planes * config.Expansion;
        var stride = config.SpatialStride[stage];
        var posDim = config.PosDim[stage];
        // Official _make_layer: only the first block gets the stride and (when widths differ) the projection shortcut.
        var blocks = new List<Module<Tensor, Tensor>> { MakeBlock(inPlanes, planes, stride, inPlanes != outPlanes, posDim) };
        inPlanes = outPlanes;
        for (var i = 1; i < config.Layers[stage]; i++) blocks.Add(MakeBlock(inPlanes, planes, 1, false, posDim));
        return Sequential(blocks);
    }

    private Module<Tensor, Tensor> MakeBlock(long inPlanes, long planes, long stride, bool shortcut, long posDim) =>
        config.Block == SqueezeTimeBlockType.Bottleneck
            ? new CtlBottleneck(inPlanes, planes, stride, shortcut, posDim)
            : new CtlBasicBlock(inPlanes, planes, stride, shortcut, posDim);

    /// <summary>
    /// Squeezes time into channels: (N, C, T, H, W) → (N, C·T, H, W) as a row-major reshape, so channel <c>c·T + t</c>
    /// holds colour c of frame t (colour-major, as the official <c>x.view(N, -1, H, W)</c>; the paper figure draws
    /// frame-major groups, but every released checkpoint expects this order).
    /// </summary>
    public static Tensor SqueezeTime(Tensor clip) =>
        clip.reshape(clip.shape[0], clip.shape[1] * clip.shape[2], clip.shape[3], clip.shape[4]);

    /// <summary>
    /// Stem output and the four stage outputs for a clip (N, C, T, H, W): [stem (N, w₀, H/4, W/4), layer1 … layer4].
    /// </summary>
    public IReadOnlyList<Tensor> ForwardIntermediates(Tensor clip)
    {
        SqueezeTimeInput.Validate(clip, config, training, nameof(clip));
        using var scope = NewDisposeScope();
        var x = maxpool.call(functional.relu(bn1.call(conv1.call(SqueezeTime(clip)))));
        var outputs = new List<Tensor> { x };
        foreach (var layer in new[] { layer1, layer2, layer3, layer4 })
        {
            x = layer.call(x);
            outputs.Add(x);
        }
        foreach (var o in outputs) o.MoveToOuterDisposeScope();
        return outputs;
    }

    /// <summary>Feature map (N, F, h, w) of a clip (N, C, T, H, W); F = <see cref="SqueezeTimeConfig.FeatureChannels"/>.</summary>
    public override Tensor forward(Tensor clip)
    {
        var outputs = ForwardIntermediates(clip);
        for (var i = 0; i < outputs.Count - 1; i++) outputs[i].Dispose();
        return outputs[^1];
    }
}

/// <summary>
/// Official mmaction backbone wrapper <c>SqueezeTime</c>: holds the network as <c>net</c>, which gives the
/// checkpoint prefix <c>backbone.net.</c>.
/// </summary>
public sealed class SqueezeTimeBackbone : Module<Tensor, Tensor>
{
    private readonly SqueezeTimeResNet net;

    /// <summary>Builds the backbone for a configuration.</summary>
    public SqueezeTimeBackbone(SqueezeTimeConfig config) : base(nameof(SqueezeTimeBackbone))
    {
        net = new SqueezeTimeResNet(config);
        RegisterComponents();
    }

    /// <summary>The wrapped network.</summary>
    public SqueezeTimeResNet Net => net;

    /// <inheritdoc />
    public override Tensor forward(Tensor clip) => net.call(clip);
}

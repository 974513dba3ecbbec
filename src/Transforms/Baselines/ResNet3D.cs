using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MLNetExtensions.Transforms.Baselines;

/// <summary>Convolution of a <see cref="ResNet3D"/> stage (torchvision <c>conv_makers</c>).</summary>
public enum VideoConvType
{
    /// <summary>3×3×3 convolution, strided in time and space (torchvision <c>Conv3DSimple</c>; R3D).</summary>
    Full3D,

    /// <summary>1×3×3 convolution, strided in space only (torchvision <c>Conv3DNoTemporal</c>; MC3 stages 2–4).</summary>
    NoTemporal,
}

/// <summary>Depths, widths and convolution types of a <see cref="ResNet3D"/> (torchvision <c>VideoResNet</c> arguments).</summary>
/// <param name="Layers">BasicBlocks per stage (four stages).</param>
/// <param name="Widths">Channels of the four stages; the stem outputs <c>Widths[0]</c> (torchvision: 64/128/256/512, stem 64).</param>
/// <param name="ConvTypes">Convolution of each stage (torchvision <c>conv_makers</c>).</param>
/// <param name="NumClasses">Classes of the final <c>fc</c>.</param>
/// <param name="InChannels">Colour channels of the clip.</param>
public sealed record ResNet3DConfig(int[] Layers, int[] Widths, VideoConvType[] ConvTypes, int NumClasses = 400, int InChannels = 3)
{
    /// <summary>torchvision <c>r3d_18</c> (Tran et al. 2018): 3D convs everywhere, [2,2,2,2], 33,371,472 parameters with 400 classes.</summary>
    public static ResNet3DConfig R3D18(int numClasses = 400) =>
        new(new[] { 2, 2, 2, 2 }, new[] { 64, 128, 256, 512 }, Enumerable.Repeat(VideoConvType.Full3D, 4).ToArray(), numClasses);

    /// <summary>torchvision <c>mc3_18</c>: 3D convs in stage 1, 1×3×3 convs in stages 2–4 (11,695,440 parameters with 400 classes).</summary>
    public static ResNet3DConfig MC3_18(int numClasses = 400) =>
        new(new[] { 2, 2, 2, 2 }, new[] { 64, 128, 256, 512 },
            new[] { VideoConvType.Full3D, VideoConvType.NoTemporal, VideoConvType.NoTemporal, VideoConvType.NoTemporal }, numClasses);

    /// <summary>
    /// Small R3D (one block per stage, widths 8/16/32/64, 3D convs everywhere): 228,380 parameters with 4 classes, the
    /// size of <c>SqueezeTimeConfig.Tiny</c> (237,892), as the 3D-convolution baseline of the moving Fashion-MNIST task.
    /// </summary>
    public static ResNet3DConfig Tiny(int numClasses = 10) =>
        new(new[] { 1, 1, 1, 1 }, new[] { 8, 16, 32, 64 }, Enumerable.Repeat(VideoConvType.Full3D, 4).ToArray(), numClasses);

    /// <summary>Throws <see cref="ArgumentException"/> when the configuration cannot build a network.</summary>
    public void Validate()
    {
        if (Layers is not { Length: 4 } || Layers.Any(l => l < 1))
            throw new ArgumentException("ResNet3D needs Layers with 4 stages of at least one block each.", nameof(Layers));
        if (Widths is not { Length: 4 } || Widths.Any(w => w < 1))
            throw new ArgumentException("ResNet3D needs 4 positive Widths.", nameof(Widths));
        if (ConvTypes is not { Length: 4 }) throw new ArgumentException("ResNet3D needs 4 ConvTypes.", nameof(ConvTypes));
        if (NumClasses < 1) throw new ArgumentException("NumClasses must be at least 1.", nameof(NumClasses));
        if (InChannels < 1) throw new ArgumentException("InChannels must be at least 1.", nameof(InChannels));
    }

    /// <summary>Parameter count from the widths alone (convs have no bias; BN has weight and bias; fc has a bias).</summary>
    public long ParameterCount()
    {
        long k(VideoConvType t) => t == VideoConvType.Full3D ? 27 : 9;
        long n = InChannels * 3L * 7 * 7 * Widths[0] + 2L * Widths[0]; // stem conv + BN
        long cin = Widths[0];
        for (int s = 0; s < 4; s++)
        {
            long w = Widths[s];
            for (int b = 0; b < Layers[s]; b++)
            {
                n += k(ConvTypes[s]) * (cin * w + w * w) + 4 * w;          // conv1, conv2 and their BNs
                if (b == 0 && (s > 0 || cin != w)) n += cin * w + 2 * w;     // 1×1×1 projection shortcut + BN
                cin = w;
            }
        }
        return n + cin * NumClasses + NumClasses;
    }
}

/// <summary>
/// torchvision <c>BasicBlock</c> of the video ResNets: <c>ReLU(BN(conv2(ReLU(BN(conv1(x))))) + shortcut(x))</c>,
/// the stride on <c>conv1</c> and a 1×1×1 conv + BN shortcut when the shape changes.
/// </summary>
public sealed class ResNet3DBasicBlock : Module<Tensor, Tensor>
{
    private readonly Sequential conv1;
    private readonly Sequential conv2;
    private readonly Sequential? downsample;

    /// <summary>Builds a block from <paramref name="inPlanes"/> to <paramref name="planes"/> channels.</summary>
    /// <param name="inPlanes">Input channels.</param>
    /// <param name="planes">Output channels.</param>
    /// <param name="type">Convolution type (sets the kernel and which axes the stride applies to).</param>
    /// <param name="stride">1, or 2 to halve the resolution (time too for <see cref="VideoConvType.Full3D"/>).</param>
    public ResNet3DBasicBlock(long inPlanes, long planes, VideoConvType type, long stride) : base(nameof(ResNet3DBasicBlock))
    {
        conv1 = Sequential(("0", Conv(inPlanes, planes, type, stride)), ("1", new SafeBatchNorm3d(planes)), ("2", ReLU()));
        conv2 = Sequential(("0", Conv(planes, planes, type, 1)), ("1", new SafeBatchNorm3d(planes)));
        if (stride != 1 || inPlanes != planes)
        {
            var ds = StrideOf(type, stride);
            downsample = Sequential(("0", Conv3d(inPlanes, planes, (1, 1, 1), stride: ds, bias: false)), ("1", new SafeBatchNorm3d(planes)));
        }
        RegisterComponents();
    }

    // Conv3DSimple / Conv3DNoTemporal: 3×3×3 pad 1, or 1×3×3 pad (0,1,1) with the stride on H, W only.
    private static Conv3d Conv(long cin, long cout, VideoConvType type, long stride) => type == VideoConvType.Full3D
        ? Conv3d(cin, cout, (3, 3, 3), stride: (stride, stride, stride), padding: (1, 1, 1), bias: false)
        : Conv3d(cin, cout, (1, 3, 3), stride: (1, stride, stride), padding: (0, 1, 1), bias: false);

    // torchvision get_downsample_stride: the shortcut strides the same axes as the block's first conv.
    private static (long, long, long) StrideOf(VideoConvType type, long s) => type == VideoConvType.Full3D ? (s, s, s) : (1, s, s);

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = conv2.call(conv1.call(x));
        var r = downsample is null ? x : downsample.call(x);
        return functional.relu(y.Plus(r)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// 3D-convolution video ResNet with torchvision's <c>VideoResNet</c> structure and parameter names (<c>stem.0</c>,
/// <c>layer1.0.conv1.0</c>, …, <c>fc</c>), so a torchvision <c>r3d_18</c>/<c>mc3_18</c> <c>state_dict</c> loads strictly:
/// stem Conv3d 3×7×7 stride (1,2,2) + BN + ReLU (no max-pool), four stages of <see cref="ResNet3DBasicBlock"/>
/// (stages 2–4 stride 2), global average pool, linear head. The suite's 3D-convolution baseline for SqueezeTime.
/// </summary>
/// <remarks>Input (N, C, T, H, W), normalised by the caller; output raw logits (N, classes).</remarks>
public sealed class ResNet3D : Module<Tensor, Tensor>
{
    private readonly Sequential stem;
    private readonly Sequential layer1;
    private readonly Sequential layer2;
    private readonly Sequential layer3;
    private readonly Sequential layer4;
    private readonly AdaptiveAvgPool3d avgpool;
    private readonly Linear fc;

    /// <summary>Builds the network with torchvision's initialisation.</summary>
    public ResNet3D(ResNet3DConfig config) : base(nameof(ResNet3D))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        var w = config.Widths;
        stem = Sequential(
            ("0", Conv3d(config.InChannels, w[0], (3, 7, 7), stride: (1, 2, 2), padding: (1, 3, 3), bias: false)),
            ("1", new SafeBatchNorm3d(w[0])), ("2", ReLU()));
        long inPlanes = w[0];
        layer1 = MakeLayer(ref inPlanes, 0, 1);
        layer2 = MakeLayer(ref inPlanes, 1, 2);
        layer3 = MakeLayer(ref inPlanes, 2, 2);
        layer4 = MakeLayer(ref inPlanes, 3, 2);
        avgpool = AdaptiveAvgPool3d(new long[] { 1, 1, 1 });
        fc = Linear(inPlanes, config.NumClasses);
        RegisterComponents();

        // torchvision _initialize_weights: Kaiming-normal (fan_out, relu) convs, BN 1/0 (TorchSharp's default), fc N(0, 0.01), bias 0.
        using (no_grad())
        {
            foreach (var (_, m) in named_modules())
                if (m is Conv3d conv) init.kaiming_normal_(conv.weight, mode: init.FanInOut.FanOut, nonlinearity: init.NonlinearityType.ReLU);
            init.normal_(fc.weight, 0, 0.01);
            init.zeros_(fc.bias);
        }
    }

    /// <summary>The configuration this network was built from.</summary>
    public ResNet3DConfig Config { get; }

    private Sequential MakeLayer(ref long inPlanes, int stage, long stride)
    {
        var c = Config;
        var blocks = new List<Module<Tensor, Tensor>> { new ResNet3DBasicBlock(inPlanes, c.Widths[stage], c.ConvTypes[stage], stride) };
        inPlanes = c.Widths[stage];
        for (int i = 1; i < c.Layers[stage]; i++) blocks.Add(new ResNet3DBasicBlock(inPlanes, inPlanes, c.ConvTypes[stage], 1));
        return Sequential(blocks);
    }

    /// <summary>Feature map (N, Widths[3], T', H', W') of a clip (N, C, T, H, W) before pooling.</summary>
    /// <exception cref="ArgumentException">Not a 5-D floating-point tensor with <see cref="ResNet3DConfig.InChannels"/> channels.</exception>
    public Tensor ForwardFeatures(Tensor clip)
    {
        if (clip.dim() != 5 || clip.shape[1] != Config.InChannels)
            throw new ArgumentException($"ResNet3D expects a clip (N, {Config.InChannels}, T, H, W); got shape ({string.Join(", ", clip.shape)}).", nameof(clip));
        if (!clip.is_floating_point())
            throw new ArgumentException($"ResNet3D expects a floating-point clip; got {clip.dtype}.", nameof(clip));
        using var scope = NewDisposeScope();
        var x = stem.call(clip);
        x = layer4.call(layer3.call(layer2.call(layer1.call(x))));
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>Logits (N, classes) of a clip (N, C, T, H, W).</summary>
    /// <exception cref="ArgumentException">Not a 5-D floating-point tensor with <see cref="ResNet3DConfig.InChannels"/> channels.</exception>
    public override Tensor forward(Tensor clip)
    {
        using var scope = NewDisposeScope();
        var x = avgpool.call(ForwardFeatures(clip)).flatten(1);
        return fc.call(x).MoveToOuterDisposeScope();
    }
}

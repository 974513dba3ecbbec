using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using MLNetExtensions.Transforms.Ssa;

namespace MLNetExtensions.Transforms.Segmentation;

/// <summary>Configuration of <see cref="ConvPyramidBackbone"/>.</summary>
/// <param name="Widths">Channels of the four feature maps (strides 4, 8, 16, 32).</param>
/// <param name="InChannels">Image channels.</param>
public sealed record ConvPyramidConfig(int[] Widths, int InChannels = 3)
{
    /// <summary>The default small backbone (16, 32, 64, 96 channels).</summary>
    public static ConvPyramidConfig Small => new(new[] { 16, 32, 64, 96 });
}

/// <summary>3×3 conv (no bias) + BatchNorm + ReLU.</summary>
internal sealed class ConvBnRelu : Module<Tensor, Tensor>
{
    private readonly Conv2d conv;
    private readonly SafeBatchNorm2d bn;

    public ConvBnRelu(int inChannels, int outChannels, int stride) : base(nameof(ConvBnRelu))
    {
        conv = Conv2d(inChannels, outChannels, 3, stride: stride, padding: 1, bias: false);
        bn = new SafeBatchNorm2d(outChannels);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        return functional.relu(bn.call(conv.call(x))).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// A small convolutional feature pyramid (the "fork_feat" interface of TinyViM/MiT backbones): four maps at strides
/// 4, 8, 16 and 32 for <see cref="Ssa.LightSegDecoder"/>. Used instead of a TinyViM backbone because the TinyViM port
/// has no fork_feat output and its selective scan is slow on CPU; the decoder does not care which backbone feeds it.
/// </summary>
/// <remarks>Stem: two stride-2 convs (stride 4); each later stage: a stride-2 conv and a stride-1 conv.</remarks>
public sealed class ConvPyramidBackbone : Module<Tensor, Tensor[]>
{
    private readonly Sequential stem;
    private readonly ModuleList<Sequential> stages;

    /// <summary>Creates the backbone.</summary>
    public ConvPyramidBackbone(ConvPyramidConfig config) : base(nameof(ConvPyramidBackbone))
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.Widths is null || config.Widths.Length != 4 || config.Widths.Any(w => w < 2))
            throw new ArgumentException("ConvPyramidConfig.Widths must list 4 channel counts ≥ 2.", nameof(config));
        if (config.InChannels < 1) throw new ArgumentOutOfRangeException(nameof(config), config.InChannels, "InChannels must be ≥ 1.");
        Config = config;
        var w = config.Widths;
        stem = Sequential(("0", new ConvBnRelu(config.InChannels, Math.Max(2, w[0] / 2), 2)), ("1", new ConvBnRelu(Math.Max(2, w[0] / 2), w[0], 2)));
        stages = new ModuleList<Sequential>(Enumerable.Range(1, 3)
            .Select(i => Sequential(("0", new ConvBnRelu(w[i - 1], w[i], 2)), ("1", new ConvBnRelu(w[i], w[i], 1)))).ToArray());
        RegisterComponents();
    }

    /// <summary>The configuration.</summary>
    public ConvPyramidConfig Config { get; }

    /// <summary>Total stride of the last map; inputs must be multiples of it.</summary>
    public const int Stride = 32;

    /// <summary>Four maps B×Widths[i]×(H/4·2⁻ⁱ)×(W/4·2⁻ⁱ).</summary>
    public override Tensor[] forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var outs = new Tensor[4];
        outs[0] = stem.call(x);
        for (int i = 0; i < 3; i++) outs[i + 1] = stages[i].call(outs[i]);
        foreach (var o in outs) o.MoveToOuterDisposeScope();
        return outs;
    }
}

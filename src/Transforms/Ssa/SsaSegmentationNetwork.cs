using System.Text.Json;
using MLNetExtensions.Transforms.Ssa;
using TorchSharp;
using static TorchSharp.torch;
using MLNetExtensions.Transforms.Segmentation;

namespace MLNetExtensions.Transforms.Ssa;

/// <summary>Which pixel classifier sits on the decoder.</summary>
public enum SegmentationHeadKind
{
    /// <summary>The SSA classifier (<see cref="SsaHead"/>), trained with its official losses (CE, Dice, three distillation domains).</summary>
    Ssa,
    /// <summary>The plain 1×1-conv classifier (<see cref="PixelClassifierHead"/>), trained with mmseg cross-entropy.</summary>
    Plain,
}

/// <summary>Configuration of <see cref="SsaSegmentationNetwork"/> (serialised with saved models).</summary>
/// <param name="Backbone">The feature pyramid.</param>
/// <param name="DecoderChannels">Width C of the decoder and the head.</param>
/// <param name="Head">SSA or plain classifier.</param>
/// <param name="DropoutRatio">Dropout2d before the 1×1 classifier (mmseg default 0.1).</param>
/// <param name="EdgeBorder">Border strip of SSA's distillation edge mask (official 6 is for large feature maps; scaled down here).</param>
public sealed record SsaSegmentationNetworkConfig(ConvPyramidConfig Backbone, int DecoderChannels, SegmentationHeadKind Head,
    double DropoutRatio = 0.1, int EdgeBorder = 1) : MLNetExtensions.Core.Models.IModelArchitecture
{
    string MLNetExtensions.Core.Models.IModelArchitecture.ArchitectureName => SsaSegmentationNetwork.Architecture;
}

/// <summary>
/// Image → per-pixel class logits: <see cref="ConvPyramidBackbone"/> (4 maps, strides 4–32) → <see cref="LightSegDecoder"/>
/// (SegFormer-style all-MLP body) → SSA or plain head, upsampled to the input size. Keys: <c>backbone.*</c>, <c>decode_head.*</c>.
/// </summary>
public sealed class SsaSegmentationNetwork : nn.Module<Tensor, Tensor>
{
    /// <summary>Registry name (see <c>TorchModelRegistry</c>).</summary>
    public const string Architecture = "SsaSegNet";

    private readonly ConvPyramidBackbone backbone;
    private readonly LightSegDecoder decode_head;

    /// <summary>Creates the network for <paramref name="numClasses"/> classes.</summary>
    public SsaSegmentationNetwork(SsaSegmentationNetworkConfig config, int numClasses) : base(nameof(SsaSegmentationNetwork))
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.DecoderChannels < 1) throw new ArgumentOutOfRangeException(nameof(config), config.DecoderChannels, "DecoderChannels must be ≥ 1.");
        Config = config;
        NumClasses = numClasses;
        backbone = new ConvPyramidBackbone(config.Backbone);
        decode_head = new LightSegDecoder(new LightSegDecoderConfig(config.Backbone.Widths, config.DecoderChannels, numClasses,
            UseSsa: config.Head == SegmentationHeadKind.Ssa, DropoutRatio: config.DropoutRatio, EdgeBorder: config.EdgeBorder));
        RegisterComponents();
    }

    /// <summary>Rebuilds a network from its JSON config (the registry factory).</summary>
    public static SsaSegmentationNetwork Build(string configJson, int numClasses) =>
        new(JsonSerializer.Deserialize<SsaSegmentationNetworkConfig>(configJson)
            ?? throw new ArgumentException("Empty SsaSegmentationNetwork config.", nameof(configJson)), numClasses);

    /// <summary>The configuration.</summary>
    public SsaSegmentationNetworkConfig Config { get; }
    /// <summary>Number of classes K.</summary>
    public int NumClasses { get; }
    /// <summary>The decoder and its head.</summary>
    public LightSegDecoder Decoder => decode_head;

    /// <summary>Throws unless <paramref name="x"/> is B×C×H×W with H and W multiples of 32.</summary>
    public void CheckInput(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        int c = Config.Backbone.InChannels;
        if (x.dim() != 4 || x.shape[1] != c)
            throw new ArgumentException($"Expected images of shape (B, {c}, H, W); got ({string.Join(", ", x.shape)}).", nameof(x));
        if (x.shape[2] % ConvPyramidBackbone.Stride != 0 || x.shape[3] % ConvPyramidBackbone.Stride != 0)
            throw new ArgumentException($"Image height and width must be multiples of {ConvPyramidBackbone.Stride}; got {x.shape[3]}×{x.shape[2]}.", nameof(x));
    }

    /// <summary>Per-pixel logits B×K×H×W at input resolution (bilinear, align_corners=False, as mmseg inference).</summary>
    public override Tensor forward(Tensor x)
    {
        CheckInput(x);
        using var scope = torch.NewDisposeScope();
        return decode_head.call(backbone.call(x)).MoveToOuterDisposeScope();
    }

    /// <summary>Training forward: the head's outputs at stride 4 (for <see cref="Loss"/>).</summary>
    public SegmentationHeadOutput Run(Tensor x)
    {
        CheckInput(x);
        return decode_head.Run(backbone.call(x));
    }

    /// <summary>The head's training loss against a B×H×W label map (255 = ignore).</summary>
    public SegmentationLoss Loss(SegmentationHeadOutput output, Tensor label) => decode_head.Loss(output, label);
}

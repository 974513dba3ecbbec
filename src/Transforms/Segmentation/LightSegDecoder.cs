using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using MLNetExtensions.Transforms.Ssa;

namespace MLNetExtensions.Transforms.Segmentation;

/// <summary>Configuration of <see cref="LightSegDecoder"/>.</summary>
/// <param name="InChannels">Channels of the four backbone feature maps (strides 4, 8, 16, 32), e.g. a TinyViM with fork_feat.</param>
/// <param name="Channels">Decoder width C (SegFormer head default 256).</param>
/// <param name="NumClasses">Number of classes K.</param>
/// <param name="UseSsa">True: SSA classifier (<see cref="SsaHead"/>); false: plain 1×1 classifier (<see cref="PixelClassifierHead"/>).</param>
/// <param name="DropoutRatio">Dropout before the 1×1 classifier (mmseg default 0.1).</param>
/// <param name="EdgeBorder">Edge-mask border for SSA's distillation (official 6).</param>
/// <param name="OutputStride">Stride of the first feature map relative to the input image (4 for TinyViM / MiT).</param>
public sealed record LightSegDecoderConfig(
    IReadOnlyList<int> InChannels, int Channels, int NumClasses, bool UseSsa = true,
    double DropoutRatio = 0.1, int EdgeBorder = LabelEdges.OfficialBorder, int OutputStride = 4)
{
    /// <summary>The head configuration this decoder uses.</summary>
    public SsaHeadConfig HeadConfig => new(Channels, NumClasses, DropoutRatio, EdgeBorder);
}

/// <summary>
/// A light multi-scale decoder: the SegFormer all-MLP head body (one of SSA's official heads,
/// <c>SegformerHead_ssa</c>): per-scale 1×1 ConvModule to C channels, bilinear resize to the first (stride-4) map,
/// concatenation, 1×1 fusion ConvModule, then a <see cref="SegmentationHead"/> (SSA or plain). <c>forward</c> returns
/// per-pixel logits at input resolution (first map size × <see cref="LightSegDecoderConfig.OutputStride"/>, bilinear,
/// align_corners=False, as mmseg inference).
/// </summary>
/// <remarks>
/// Keys: <c>convs.{i}.conv/bn</c> and <c>fusion_conv.conv/bn</c> as the official head; the classifier's keys sit under
/// <c>head.</c> (the official SSA head keeps them beside <c>convs</c>; <see cref="MapOfficialKey"/> converts).
/// </remarks>
public sealed class LightSegDecoder : Module<IList<Tensor>, Tensor>
{
    private readonly ModuleList<ConvModule> convs;
    private readonly ConvModule fusion_conv;
    private readonly SegmentationHead head;

    /// <summary>Creates the decoder.</summary>
    public LightSegDecoder(LightSegDecoderConfig config) : base(nameof(LightSegDecoder))
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.InChannels is null || config.InChannels.Count == 0 || config.InChannels.Any(c => c < 1))
            throw new ArgumentException("InChannels must list at least one positive channel count.", nameof(config));
        if (config.OutputStride < 1) throw new ArgumentOutOfRangeException(nameof(config), config.OutputStride, "OutputStride must be ≥ 1.");
        Config = config;
        convs = new ModuleList<ConvModule>(config.InChannels.Select(c => new ConvModule(c, config.Channels)).ToArray());
        fusion_conv = new ConvModule(config.Channels * config.InChannels.Count, config.Channels);
        head = config.UseSsa ? new SsaHead(config.HeadConfig) : new PixelClassifierHead(config.HeadConfig);
        RegisterComponents();
    }

    /// <summary>The configuration.</summary>
    public LightSegDecoderConfig Config { get; }

    /// <summary>The pixel classifier on top of the fused feature.</summary>
    public SegmentationHead Head => head;

    /// <summary>Fused decode feature B×C×h₀×w₀ at the resolution of the first feature map.</summary>
    public Tensor Fuse(IList<Tensor> features)
    {
        Check(features);
        using var scope = torch.NewDisposeScope();
        var size = new[] { features[0].shape[2], features[0].shape[3] };
        var outs = new Tensor[features.Count];
        for (int i = 0; i < features.Count; i++)
            outs[i] = nn.functional.interpolate(convs[i].call(features[i]), size: size, mode: InterpolationMode.Bilinear, align_corners: false);
        return fusion_conv.call(torch.cat(outs, 1)).MoveToOuterDisposeScope();
    }

    /// <summary>Runs the decoder and head in the current mode; logits stay at the first map's resolution (for <see cref="Loss"/>).</summary>
    public SegmentationHeadOutput Run(IList<Tensor> features) => head.Run(Fuse(features));

    /// <summary>The head's training loss (see <see cref="SegmentationHead.Loss"/>).</summary>
    public SegmentationLoss Loss(SegmentationHeadOutput output, Tensor label, Tensor? edges = null) => head.Loss(output, label, edges);

    /// <summary>Per-pixel logits B×K×(h₀·stride)×(w₀·stride) at input resolution.</summary>
    public override Tensor forward(IList<Tensor> features)
    {
        Check(features);
        return Predict(features, features[0].shape[2] * Config.OutputStride, features[0].shape[3] * Config.OutputStride);
    }

    /// <summary>Per-pixel logits resized (bilinear, align_corners=False) to an explicit size, e.g. the original image size.</summary>
    public Tensor Predict(IList<Tensor> features, long height, long width)
    {
        if (height < 1 || width < 1) throw new ArgumentOutOfRangeException(nameof(height), "Output size must be positive.");
        using var scope = torch.NewDisposeScope();
        var logits = Run(features).Logits;
        return SegmentationLossFunctions.Resize(logits, height, width, alignCorners: false).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Maps an official mmseg <c>SegformerHead_ssa</c> / <c>SegformerHead</c> checkpoint key (with or without
    /// <c>decode_head.</c>) to this module's key: <c>convs.*</c> and <c>fusion_conv.*</c> unchanged, everything else under <c>head.</c>.
    /// </summary>
    public static string MapOfficialKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        const string prefix = "decode_head.";
        var k = key.StartsWith(prefix, StringComparison.Ordinal) ? key[prefix.Length..] : key;
        return k.StartsWith("convs.", StringComparison.Ordinal) || k.StartsWith("fusion_conv.", StringComparison.Ordinal) ? k : "head." + k;
    }

    private void Check(IList<Tensor> features)
    {
        ArgumentNullException.ThrowIfNull(features);
        var expected = Config.InChannels;
        if (features.Count != expected.Count)
            throw new ArgumentException($"Expected {expected.Count} feature maps (channels {string.Join(", ", expected)}); got {features.Count}.", nameof(features));
        for (int i = 0; i < features.Count; i++)
        {
            var f = features[i] ?? throw new ArgumentException($"Feature map {i} is null.", nameof(features));
            if (f.dim() != 4 || f.shape[1] != expected[i])
                throw new ArgumentException(
                    $"Feature map {i}: expected shape (B, {expected[i]}, h, w); got ({string.Join(", ", f.shape)}).", nameof(features));
            if (f.shape[0] != features[0].shape[0])
                throw new ArgumentException($"Feature map {i} has batch size {f.shape[0]}, map 0 has {features[0].shape[0]}.", nameof(features));
        }
    }
}

using MLNetExtensions.Transforms.Segmentation;

namespace MLNetExtensions.Transforms.Ssa;

/// <summary>
/// Configuration of a pixel-classifier head. SSA adds no hyper-parameters of its own (every SSA constant is
/// hard-coded in the official head); these are the decode-head settings it inherits.
/// </summary>
/// <param name="Channels">Decode-head feature channels C (<c>decode_head.channels</c>).</param>
/// <param name="NumClasses">Number of classes K.</param>
/// <param name="DropoutRatio">Dropout2d before the 1×1 classifier (mmseg default 0.1; ≤ 0 disables it, as OCRNet's −1).</param>
/// <param name="EdgeBorder">Border strip zeroed in the distillation edge mask (official 6; use 1–2 on small feature maps).</param>
public sealed record SsaHeadConfig(int Channels, int NumClasses, double DropoutRatio = 0.1, int EdgeBorder = LabelEdges.OfficialBorder)
{
    /// <summary>SegNeXt-T (LightHamHead, 256 channels) on ADE20K.</summary>
    public static SsaHeadConfig SegNeXtTAde20K => new(256, 150);

    /// <summary>SeaFormer-B (LightHead, 160 channels) on ADE20K.</summary>
    public static SsaHeadConfig SeaFormerBAde20K => new(160, 150);

    /// <summary>SegFormer MLP head (256 channels) on ADE20K.</summary>
    public static SsaHeadConfig SegFormerAde20K => new(256, 150);

    /// <summary>UPerNet (512 channels) on ADE20K.</summary>
    public static SsaHeadConfig UperNetAde20K => new(512, 150);

    /// <summary>The parity-fixture configuration (C=32, K=11).</summary>
    public static SsaHeadConfig Fixture => new(32, 11);
}

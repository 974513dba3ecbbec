namespace MLNetExtensions.Transforms.SqueezeTime;

/// <summary>Residual block type of the SqueezeTime backbone (official <c>BasicBlock</c> / <c>Bottleneck</c>).</summary>
public enum SqueezeTimeBlockType
{
    /// <summary>Two CTL modules per block, expansion 1 (official depths 10/18/34; no released checkpoint).</summary>
    Basic,

    /// <summary>1×1 → CTL → 1×1 bottleneck, expansion 4 (official depths 50/101/152/200; the released model).</summary>
    Bottleneck,
}

/// <summary>
/// Architecture of a SqueezeTime video classifier (Zhai et al., 2024, "No Time to Waste: Squeeze Time into Channel
/// for Mobile Video Understanding"), mirroring the arguments of the official <c>SqueezeTime</c> backbone plus its
/// <c>I2DHead</c>.
/// </summary>
/// <param name="Block">Residual block type.</param>
/// <param name="Layers">Blocks per stage (four stages).</param>
/// <param name="WidenFactor">Width multiplier on the base widths [64,128,256,512] (official <c>widen_factor</c>).</param>
/// <param name="Frames">Frames T per clip; the stem sees <c>ImageChannels·T</c> channels (official <c>input_channels</c> = 3T).</param>
/// <param name="NumClasses">Classes of the linear head.</param>
/// <param name="SpatialStride">Stride of each stage (1 or 2); stride 2 = depthwise 2×2 downsample on the block input.</param>
/// <param name="PosDim">Side of the square positional embedding of each stage's CTL modules (resized when it differs from the map).</param>
/// <param name="ImageChannels">Colour channels C per frame (3 for RGB).</param>
/// <param name="DropoutRatio">Dropout before the classifier (official <c>I2DHead.dropout_ratio</c>); 0 disables it.</param>
public sealed record SqueezeTimeConfig(
    SqueezeTimeBlockType Block,
    int[] Layers,
    double WidenFactor,
    int Frames,
    int NumClasses,
    int[] SpatialStride,
    int[] PosDim,
    int ImageChannels = 3,
    double DropoutRatio = 0.5)
{
    /// <summary>Base stage widths before <see cref="WidenFactor"/> (official <c>get_inplanes()</c>).</summary>
    public static IReadOnlyList<int> BaseWidths { get; } = new[] { 64, 128, 256, 512 };

    /// <summary>Hidden width of the IOI gate; fixed at 16 in the official code (does not scale with the width).</summary>
    public const int GateHiddenChannels = 16;

    /// <summary>Per-channel RGB mean on 0–255 pixels used by every official config (mmaction data preprocessor).</summary>
    public static IReadOnlyList<float> PixelMean { get; } = new[] { 123.675f, 116.28f, 103.53f };

    /// <summary>Per-channel RGB std on 0–255 pixels used by every official config.</summary>
    public static IReadOnlyList<float> PixelStd { get; } = new[] { 58.395f, 57.12f, 57.375f };

    /// <summary>Expansion of the block type (1 for Basic, 4 for Bottleneck).</summary>
    public int Expansion => Block == SqueezeTimeBlockType.Bottleneck ? 4 : 1;

    /// <summary>Stage widths (planes) after the width multiplier; truncated like the official <c>int(x * widen_factor)</c>.</summary>
    public int[] StageWidths => BaseWidths.Select(w => (int)(w * WidenFactor)).ToArray();

    /// <summary>Channels of the backbone output (input of the linear head).</summary>
    public int FeatureChannels => StageWidths[3] * Expansion;

    /// <summary>Channels of the squeezed stem input (C·T).</summary>
    public int InputChannels => ImageChannels * Frames;

    /// <summary>Throws <see cref="ArgumentException"/> when the configuration cannot build a network.</summary>
    public void Validate()
    {
        if (Layers is not { Length: 4 } || Layers.Any(l => l < 1))
            throw new ArgumentException("SqueezeTime needs Layers with 4 stages of at least one block each.", nameof(Layers));
        if (SpatialStride is not { Length: 4 } || SpatialStride.Any(s => s is not (1 or 2)))
            throw new ArgumentException("SqueezeTime needs SpatialStride with 4 entries, each 1 or 2.", nameof(SpatialStride));
        if (PosDim is not { Length: 4 } || PosDim.Any(p => p < 1))
            throw new ArgumentException("SqueezeTime needs PosDim with 4 positive entries.", nameof(PosDim));
        if (WidenFactor <= 0 || StageWidths.Any(w => w < 1))
            throw new ArgumentException($"WidenFactor {WidenFactor} gives a stage width below 1.", nameof(WidenFactor));
        if (Frames < 1) throw new ArgumentException("Frames must be at least 1.", nameof(Frames));
        if (ImageChannels < 1) throw new ArgumentException("ImageChannels must be at least 1.", nameof(ImageChannels));
        if (NumClasses < 1) throw new ArgumentException("NumClasses must be at least 1.", nameof(NumClasses));
        if (DropoutRatio is < 0 or >= 1) throw new ArgumentException("DropoutRatio must be in [0, 1).", nameof(DropoutRatio));
    }

    /// <summary>
    /// The official factory <c>generate_model(depth, ...)</c>: depth 10/18/34 use Basic blocks, 50/101/152/200 Bottleneck.
    /// Defaults are those of the released K400/K600/HMDB51 configs (T = 16, 224², pos_dim [56,28,14,7]).
    /// </summary>
    public static SqueezeTimeConfig FromDepth(int depth, int numClasses = 400, int frames = 16, double widenFactor = 1.0,
        int[]? posDim = null, int[]? spatialStride = null)
    {
        var (block, layers) = depth switch
        {
            10 => (SqueezeTimeBlockType.Basic, new[] { 1, 1, 1, 1 }),
            18 => (SqueezeTimeBlockType.Basic, new[] { 2, 2, 2, 2 }),
            34 => (SqueezeTimeBlockType.Basic, new[] { 3, 4, 6, 3 }),
            50 => (SqueezeTimeBlockType.Bottleneck, new[] { 3, 4, 6, 3 }),
            101 => (SqueezeTimeBlockType.Bottleneck, new[] { 3, 4, 23, 3 }),
            152 => (SqueezeTimeBlockType.Bottleneck, new[] { 3, 8, 36, 3 }),
            200 => (SqueezeTimeBlockType.Bottleneck, new[] { 3, 24, 36, 3 }),
            _ => throw new ArgumentException($"SqueezeTime depth must be one of 10, 18, 34, 50, 101, 152, 200; got {depth}.", nameof(depth)),
        };
        return new SqueezeTimeConfig(block, layers, widenFactor, frames, numClasses,
            spatialStride ?? new[] { 1, 2, 2, 2 }, posDim ?? new[] { 56, 28, 14, 7 });
    }

    /// <summary>Released Kinetics-400 model (<c>SqueezeTime_K400.py</c>): depth 50, w 1, T 16, 224², 400 classes.</summary>
    public static SqueezeTimeConfig K400 => FromDepth(50, numClasses: 400);

    /// <summary>Released Kinetics-600 model (<c>SqueezeTime_K600.py</c>): as K400 with 600 classes.</summary>
    public static SqueezeTimeConfig K600 => FromDepth(50, numClasses: 600);

    /// <summary>Released HMDB51 model (<c>SqueezeTime_HMDB51.py</c>): as K400 with 51 classes.</summary>
    public static SqueezeTimeConfig Hmdb51 => FromDepth(50, numClasses: 51);

    /// <summary>
    /// Smallest configuration used in this repository (the method note's CPU reproduction): Bottleneck, one block per
    /// stage, w = 0.125 (planes 8/16/32/64, 256 output channels), T = 8, pos_dim [8,4,2,1] (exact at 32² inputs).
    /// </summary>
    public static SqueezeTimeConfig Tiny(int numClasses = 10, int frames = 8) =>
        new(SqueezeTimeBlockType.Bottleneck, new[] { 1, 1, 1, 1 }, 0.125, frames, numClasses,
            new[] { 1, 2, 2, 2 }, new[] { 8, 4, 2, 1 });

    /// <summary>Configuration of the parity fixture in <c>shared/parity/squeezetime</c> (layers [1,2,1,1], w 0.125, T 8, 10 classes).</summary>
    public static SqueezeTimeConfig ParityFixture =>
        new(SqueezeTimeBlockType.Bottleneck, new[] { 1, 2, 1, 1 }, 0.125, 8, 10,
            new[] { 1, 2, 2, 2 }, new[] { 16, 8, 3, 3 });
}

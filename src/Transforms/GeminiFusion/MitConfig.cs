namespace MLNetExtensions.Transforms.GeminiFusion;

/// <summary>
/// Architecture of a Mix Transformer (SegFormer MiT) encoder with GeminiFusion in every block (official
/// JiaDingCN/GeminiFusion <c>models/mix_transformer.py</c>, classes <c>mit_b0</c> … <c>mit_b5</c>). One entry per
/// stage in every array; the official variants have four stages. Fewer stages (1–3) keep the same layer recipe and
/// key names (<c>patch_embed1</c>, <c>block1</c>, <c>norm1</c>, …) for small CPU models.
/// </summary>
/// <param name="Name">Variant name (informational; used by <see cref="Named"/>).</param>
/// <param name="EmbedDims">Stage widths (official <c>embed_dims</c>); each must be divisible by its self-attention heads and by <see cref="CrossHeads"/>.</param>
/// <param name="NumHeads">Self-attention heads per stage (official <c>num_heads</c>).</param>
/// <param name="Depths">Blocks per stage (official <c>depths</c>).</param>
/// <param name="SrRatios">Spatial-reduction ratio of the keys/values per stage (official <c>sr_ratios</c>).</param>
public sealed record MitConfig(string Name, int[] EmbedDims, int[] NumHeads, int[] Depths, int[] SrRatios)
{
    /// <summary>Mix-FFN expansion per stage (official <c>mlp_ratios</c>, 4 everywhere).</summary>
    public double[] MlpRatios { get; init; } = [4, 4, 4, 4];

    /// <summary>Whether q and kv have biases (official variants: true).</summary>
    public bool QkvBias { get; init; } = true;

    /// <summary>GeminiFusion cross-attention heads (official <c>--n_heads</c>, default 8, independent of <see cref="NumHeads"/>).</summary>
    public int CrossHeads { get; init; } = 8;

    /// <summary>Channels of every modality's input image (official 3; depth is tiled to 3 channels).</summary>
    public int InChannels { get; init; } = 3;

    /// <summary>Stochastic-depth rate, rising linearly from 0 over all blocks (official default 0.4; B5 0.35). 0 here so that a config is deterministic unless asked.</summary>
    public double DropPathRate { get; init; }

    /// <summary>Dropout after the attention out-projection and in the Mix-FFN (official <c>drop_rate</c>, default 0).</summary>
    public double DropRate { get; init; }

    /// <summary>Dropout on the self-attention weights (official <c>attn_drop_rate</c>, 0 in every variant).</summary>
    public double AttnDropRate { get; init; }

    /// <summary>Number of stages.</summary>
    public int NumStages => EmbedDims.Length;

    /// <summary>Patch-embedding kernel of stage i (official: 7 for the stem, 3 afterwards; the <c>patch_size=4</c> argument of <c>mit_bX</c> is unused).</summary>
    public static int PatchKernel(int stage) => stage == 0 ? 7 : 3;

    /// <summary>Patch-embedding stride of stage i (4 for the stem, 2 afterwards).</summary>
    public static int PatchStride(int stage) => stage == 0 ? 4 : 2;

    /// <summary>Total down-sampling of the last stage (4·2^(stages−1)).</summary>
    public int OutputStride => 4 << (NumStages - 1);

    /// <summary>Official MiT-B0: widths 32/64/160/256, depths 2/2/2/2.</summary>
    public static MitConfig B0 { get; } = new("mit_b0", [32, 64, 160, 256], [1, 2, 5, 8], [2, 2, 2, 2], [8, 4, 2, 1]);

    /// <summary>Official MiT-B1: widths 64/128/320/512, depths 2/2/2/2.</summary>
    public static MitConfig B1 { get; } = new("mit_b1", [64, 128, 320, 512], [1, 2, 5, 8], [2, 2, 2, 2], [8, 4, 2, 1]);

    /// <summary>Official MiT-B2: depths 3/4/6/3.</summary>
    public static MitConfig B2 { get; } = new("mit_b2", [64, 128, 320, 512], [1, 2, 5, 8], [3, 4, 6, 3], [8, 4, 2, 1]);

    /// <summary>Official MiT-B3: depths 3/4/18/3.</summary>
    public static MitConfig B3 { get; } = new("mit_b3", [64, 128, 320, 512], [1, 2, 5, 8], [3, 4, 18, 3], [8, 4, 2, 1]);

    /// <summary>Official MiT-B4: depths 3/8/27/3.</summary>
    public static MitConfig B4 { get; } = new("mit_b4", [64, 128, 320, 512], [1, 2, 5, 8], [3, 8, 27, 3], [8, 4, 2, 1]);

    /// <summary>Official MiT-B5: depths 3/6/40/3.</summary>
    public static MitConfig B5 { get; } = new("mit_b5", [64, 128, 320, 512], [1, 2, 5, 8], [3, 6, 40, 3], [8, 4, 2, 1]);

    /// <summary>The note's CPU configuration (§6): two stages, widths 32/64, depths 2/2, heads 1/2, sr 4/2.</summary>
    public static MitConfig Small { get; } = new("small", [32, 64], [1, 2], [2, 2], [4, 2]) { MlpRatios = [4, 4] };

    /// <summary>A four-stage model small enough for unit tests (widths 16/32/32/64, one block per stage).</summary>
    public static MitConfig Tiny { get; } = new("tiny", [16, 32, 32, 64], [1, 2, 2, 4], [1, 1, 1, 1], [8, 4, 2, 1]);

    /// <summary>The official variants, B0 … B5.</summary>
    public static IReadOnlyList<MitConfig> Official { get; } = [B0, B1, B2, B3, B4, B5];

    /// <summary>A variant by name: "mit_b0" … "mit_b5" (also "b3", "MiT-B3"), "small", "tiny"; case-insensitive.</summary>
    public static MitConfig Named(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var key = name.Trim().ToLowerInvariant().Replace("-", "_", StringComparison.Ordinal);
        foreach (var c in Official.Append(Small).Append(Tiny))
            if (c.Name == key || c.Name == "mit_" + key) return c;
        throw new ArgumentException(
            $"Unknown MiT variant '{name}'. Known: {string.Join(", ", Official.Append(Small).Append(Tiny).Select(c => c.Name))}.", nameof(name));
    }

    /// <summary>Throws a clear <see cref="ArgumentException"/> if the arrays disagree or a width does not split into its heads.</summary>
    public void Validate()
    {
        if (EmbedDims is null || EmbedDims.Length is < 1 or > 4)
            throw new ArgumentException("EmbedDims must have 1 to 4 entries (one per stage).");
        int s = EmbedDims.Length;
        if (NumHeads?.Length != s || Depths?.Length != s || SrRatios?.Length != s || MlpRatios?.Length < s)
            throw new ArgumentException($"NumHeads, Depths, SrRatios and MlpRatios need one entry per stage ({s}).");
        if (CrossHeads < 1) throw new ArgumentException("CrossHeads must be ≥ 1.");
        if (InChannels < 1) throw new ArgumentException("InChannels must be ≥ 1.");
        if (DropPathRate is < 0 or >= 1 || DropRate is < 0 or >= 1 || AttnDropRate is < 0 or >= 1)
            throw new ArgumentException("Drop rates must lie in [0, 1).");
        for (int i = 0; i < s; i++)
        {
            int c = EmbedDims[i];
            if (c < 1 || NumHeads[i] < 1 || Depths[i] < 0 || SrRatios[i] < 1 || MlpRatios![i] <= 0)
                throw new ArgumentException($"Stage {i}: widths, heads and sr ratios must be ≥ 1, depths ≥ 0, mlp ratio > 0.");
            if (c % NumHeads[i] != 0)
                throw new ArgumentException($"Stage {i}: width {c} is not divisible by its {NumHeads[i]} self-attention heads.");
            if (c % CrossHeads != 0)
                throw new ArgumentException($"Stage {i}: width {c} is not divisible by the {CrossHeads} GeminiFusion cross heads.");
        }
    }
}

namespace MLNetExtensions.Transforms.Fustal;

/// <summary>
/// The FuSTAL student (TriDet, note fustal.md §5.1): embedding, SGP stem and down-sampling branch (a pyramid of
/// <see cref="NumLevels"/> levels, strides 1, 2, 4, …), shared classification, centre-offset and Trident boundary heads.
/// Official THUMOS values as defaults.
/// </summary>
/// <param name="FeatureDim">Input feature size D (official 2048).</param>
/// <param name="NumClasses">Classes C (official 20).</param>
/// <param name="EmbedDim">Embedding / backbone width (official 512; a multiple of 16 for GroupNorm-16).</param>
/// <param name="MlpDim">SGP MLP hidden width (official 768).</param>
/// <param name="NumLevels">Pyramid levels (official 6: strides 1…32).</param>
/// <param name="StemBlocks">SGP blocks at stride 1 (official 2).</param>
/// <param name="NumBins">Trident bins per side (official 16; 17 logits with distance 0).</param>
/// <param name="HeadDim">Head width (official 512).</param>
/// <param name="HeadLayers">Conv → LN → ReLU layers before each head's output conv (official 2).</param>
/// <param name="Window">SGP instant-level kernel (official sgp_win_size 1).</param>
/// <param name="K">SGP long-kernel factor: long kernel = odd round((Window + 1)·K) (official 5 → 11).</param>
/// <param name="DropPath">Drop-path on the branch blocks (official 0.1).</param>
/// <param name="MilDropout">Dropout on the level-0 logits before the MIL pooling (FuSTAL, 0.7).</param>
/// <param name="PriorProbability">Initial classification probability (bias of the output conv, official 0.01).</param>
public sealed record TriDetConfig(
    int FeatureDim = 2048, int NumClasses = 20, int EmbedDim = 512, int MlpDim = 768, int NumLevels = 6, int StemBlocks = 2, int NumBins = 16,
    int HeadDim = 512, int HeadLayers = 2, int Window = 1, double K = 5, double DropPath = 0.1, double MilDropout = 0.7, double PriorProbability = 0.01)
{
    /// <summary>Input lengths are padded to a multiple of this (the coarsest stride).</summary>
    public int MaxStride => 1 << (NumLevels - 1);

    /// <summary>Regression range of level <paramref name="level"/> in grid steps: [0,4], [4,8], [8,16], … the last open (official).</summary>
    public (double Low, double High) RegressionRange(int level) =>
        (level == 0 ? 0 : 4 * Math.Pow(2, level - 1), level == NumLevels - 1 ? double.PositiveInfinity : 4 * Math.Pow(2, level));

    /// <summary>Throws naming the first invalid setting.</summary>
    public void Validate()
    {
        if (FeatureDim < 1 || NumClasses < 1) throw new ArgumentOutOfRangeException(nameof(FeatureDim), "FeatureDim and NumClasses must be ≥ 1.");
        if (EmbedDim < 16 || EmbedDim % 16 != 0) throw new ArgumentOutOfRangeException(nameof(EmbedDim), EmbedDim, "EmbedDim must be a positive multiple of 16 (GroupNorm-16).");
        if (MlpDim < 1 || HeadDim < 1) throw new ArgumentOutOfRangeException(nameof(MlpDim), "MlpDim and HeadDim must be ≥ 1.");
        if (NumLevels < 1 || NumLevels > 10) throw new ArgumentOutOfRangeException(nameof(NumLevels), NumLevels, "NumLevels must be in 1…10.");
        if (StemBlocks < 0 || HeadLayers < 0) throw new ArgumentOutOfRangeException(nameof(StemBlocks), "StemBlocks and HeadLayers must be ≥ 0.");
        if (NumBins < 1) throw new ArgumentOutOfRangeException(nameof(NumBins), NumBins, "NumBins must be ≥ 1.");
        if (Window < 1 || Window % 2 == 0) throw new ArgumentOutOfRangeException(nameof(Window), Window, "Window must be an odd kernel size ≥ 1.");
        if (!(K > 0)) throw new ArgumentOutOfRangeException(nameof(K), K, "K must be > 0.");
        if (!(DropPath >= 0 && DropPath < 1) || !(MilDropout >= 0 && MilDropout < 1)) throw new ArgumentOutOfRangeException(nameof(DropPath), "DropPath and MilDropout must be in [0, 1).");
        if (!(PriorProbability > 0 && PriorProbability < 1)) throw new ArgumentOutOfRangeException(nameof(PriorProbability), PriorProbability, "PriorProbability must be in (0, 1).");
    }
}

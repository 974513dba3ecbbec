namespace MLNetExtensions.Transforms.AlignKd;

/// <summary>
/// The Align-KD objective L = L_sup + w_kd·L_kd + w_V·L_V + w_att·L_att (note §2.3). Defaults are the note's
/// recommended "full Align-KD": forward KL over all positions at τ = 1, text-query × vision-key layer-0 attention with
/// head-means reduced as a sum over keys, L_V over all vision tokens plus the top-k text-focus tokens with a learnable
/// student-side adapter. <see cref="CodeFaithful"/> gives the released code's objective.
/// </summary>
public sealed record AlignKdObjectiveOptions
{
    /// <summary>Weight of the logit distillation (0 = off). Default 1.</summary>
    public double KdWeight { get; init; } = 1.0;
    /// <summary>Weight of the projected-vision-token distillation (0 = off). Default 1.</summary>
    public double VisionWeight { get; init; } = 1.0;
    /// <summary>Weight of the layer-0 attention distillation (0 = off). Default 1.</summary>
    public double AttentionWeight { get; init; } = 1.0;
    /// <summary>KD divergence. Default ForwardKl (the code; the paper figure names ReverseKl).</summary>
    public KdDivergence KdDivergence { get; init; } = KdDivergence.ForwardKl;
    /// <summary>KD positions. Default AllPositions (the code).</summary>
    public KdPositions KdPositions { get; init; } = KdPositions.AllPositions;
    /// <summary>KD temperature τ (the loss is scaled by τ²). Default 1.</summary>
    public double KdTemperature { get; init; } = 1.0;
    /// <summary>Attention block. Default TextQueryVisionKey (the paper).</summary>
    public AttentionBlock AttentionBlock { get; init; } = AttentionBlock.TextQueryVisionKey;
    /// <summary>Attention reduction. Default SumOverKeysMeanOverRows (note §5: the per-entry mean is too weak).</summary>
    public AttentionReduction AttentionReduction { get; init; } = AttentionReduction.SumOverKeysMeanOverRows;
    /// <summary>Head matching. Default HeadMean (the note's measured configuration).</summary>
    public HeadAdapter HeadAdapter { get; init; } = HeadAdapter.HeadMean;
    /// <summary>Vision-token adapter. Default Learnable (student-side; the frozen random one was harmful).</summary>
    public ProjectionAdapter ProjectionAdapter { get; init; } = ProjectionAdapter.Learnable;
    /// <summary>Rows that pick the focus tokens. Default TextRows.</summary>
    public FocusRows FocusRows { get; init; } = FocusRows.TextRows;
    /// <summary>Focus tokens k (0 = L_V over all tokens only). Default 4 (of 16, the note's miniature).</summary>
    public int FocusTopK { get; init; } = 4;
    /// <summary>Seed of the adapters' initialisation. Default 0.</summary>
    public int AdapterSeed { get; init; }

    /// <summary>The released code's objective: VisionQueryTextKey (vacuous), per-entry mean, frozen random teacher-side
    /// adapters, focus from all rows (note §2.6).</summary>
    public static AlignKdObjectiveOptions CodeFaithful { get; } = new()
    {
        AttentionBlock = AttentionBlock.VisionQueryTextKey,
        AttentionReduction = AttentionReduction.MeanOverEntries,
        HeadAdapter = HeadAdapter.TeacherConvFrozen,
        ProjectionAdapter = ProjectionAdapter.TeacherFrozenRandom,
        FocusRows = FocusRows.AllRows,
    };

    /// <summary>Throws naming the first invalid option.</summary>
    public void Validate()
    {
        if (!(KdWeight >= 0)) throw new ArgumentOutOfRangeException(nameof(KdWeight), KdWeight, "KdWeight must be ≥ 0.");
        if (!(VisionWeight >= 0)) throw new ArgumentOutOfRangeException(nameof(VisionWeight), VisionWeight, "VisionWeight must be ≥ 0.");
        if (!(AttentionWeight >= 0)) throw new ArgumentOutOfRangeException(nameof(AttentionWeight), AttentionWeight, "AttentionWeight must be ≥ 0.");
        if (!(KdTemperature > 0)) throw new ArgumentOutOfRangeException(nameof(KdTemperature), KdTemperature, "KdTemperature must be > 0.");
        if (FocusTopK < 0) throw new ArgumentOutOfRangeException(nameof(FocusTopK), FocusTopK, "FocusTopK must be ≥ 0.");
    }
}

namespace MLNetExtensions.Transforms.Fustal;

/// <summary>CoLA/FuSTAL proposal post-processing settings (note fustal.md §3.5; defaults from the generator's config).</summary>
public sealed class ProposalOptions
{
    /// <summary>Classes with video score ≥ this are localised (the arg-max class when none is). Default 0.2.</summary>
    public double ClassThreshold { get; set; } = 0.2;

    /// <summary>Thresholds on the normalised CAS. Default <c>np.arange(0, 0.25, 0.025)</c> (10 values).</summary>
    public IReadOnlyList<double> CasThresholds { get; set; } = SegmentMath.Arange(0.0, 0.25, 0.025);

    /// <summary>Thresholds on the normalised actionness. Default <c>np.arange(0.1, 0.925, 0.025)</c> (33 values).</summary>
    public IReadOnlyList<double> ActionnessThresholds { get; set; } = SegmentMath.Arange(0.1, 0.925, 0.025);

    /// <summary>Up-sampling factor of the sequences before thresholding. Default 24.</summary>
    public int UpScale { get; set; } = 24;

    /// <summary>Minimum run length in up-sampled steps. Default 2.</summary>
    public int MinRunLength { get; set; } = 2;

    /// <summary>Outer margin as a fraction of the run length on each side (OIC λ). Default 0.25.</summary>
    public double OuterMargin { get; set; } = 0.25;

    /// <summary>Weight of the video-level class score added to the OIC score (γ). Default 0.2.</summary>
    public double ClassScoreWeight { get; set; } = 0.2;

    /// <summary>Per-class NMS threshold ("+1" overlap). Default 0.5.</summary>
    public double NmsThreshold { get; set; } = 0.5;

    /// <summary>Video frames per original snippet. Default 16.</summary>
    public double FramesPerSnippet { get; set; } = 16;

    /// <summary>Frame rate the snippets were cut at. Default 25.</summary>
    public double FeatureFps { get; set; } = 25;

    /// <summary>Throws naming the first invalid setting.</summary>
    public void Validate()
    {
        if (!(ClassThreshold >= 0 && ClassThreshold <= 1)) throw new ArgumentOutOfRangeException(nameof(ClassThreshold), ClassThreshold, "Must lie in [0, 1].");
        if (CasThresholds is null || ActionnessThresholds is null) throw new ArgumentNullException(nameof(CasThresholds), "Threshold lists may be empty but not null.");
        if (UpScale < 1) throw new ArgumentOutOfRangeException(nameof(UpScale), UpScale, "Must be ≥ 1.");
        if (MinRunLength < 1) throw new ArgumentOutOfRangeException(nameof(MinRunLength), MinRunLength, "Must be ≥ 1.");
        if (!(OuterMargin >= 0)) throw new ArgumentOutOfRangeException(nameof(OuterMargin), OuterMargin, "Must be ≥ 0.");
        if (!(FramesPerSnippet > 0) || !(FeatureFps > 0)) throw new ArgumentOutOfRangeException(nameof(FeatureFps), "Frames per snippet and fps must be > 0.");
    }
}

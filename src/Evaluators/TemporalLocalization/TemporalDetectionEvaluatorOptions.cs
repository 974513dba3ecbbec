namespace MLNetExtensions.Evaluators.TemporalLocalization;

/// <summary>Settings of the ActivityNet temporal detection evaluator; the column names apply to the <c>IDataView</c> entry point only.</summary>
public sealed class TemporalDetectionEvaluatorOptions
{
    /// <summary>tIoU thresholds. Default <c>numpy.linspace(0.1, 0.7, 7)</c> (THUMOS'14 WSTAL protocol), bit-identical to numpy. Each in [0, 1].</summary>
    public IReadOnlyList<double> Thresholds { get; set; } = NumpyCompat.Linspace(0.1, 0.7, 7);

    /// <summary>
    /// ActionFormer/TriDet variant: per video, drop ground-truth instances shorter than <see cref="DuplicateTolerance"/>
    /// and those within the tolerance (both ends) of an earlier kept instance of the same class. Default false (ActivityNet).
    /// </summary>
    public bool RemoveDuplicateGroundTruth { get; set; }

    /// <summary>Tolerance of <see cref="RemoveDuplicateGroundTruth"/>, in the segments' time unit. Default 1e-3.</summary>
    public double DuplicateTolerance { get; set; } = 1e-3;

    /// <summary>Text column with the video id of each row. Default <c>VideoId</c>.</summary>
    public string VideoIdColumnName { get; set; } = "VideoId";

    /// <summary>Predicted starts: Vector&lt;Single&gt; (seconds). Default <c>SegmentStart</c>.</summary>
    public string StartColumnName { get; set; } = "SegmentStart";

    /// <summary>Predicted ends: Vector&lt;Single&gt;, parallel to the starts. Default <c>SegmentEnd</c>.</summary>
    public string EndColumnName { get; set; } = "SegmentEnd";

    /// <summary>Predicted classes: Vector&lt;Key&lt;UInt32&gt;&gt; with text key values naming the classes. Default <c>SegmentLabel</c>.</summary>
    public string LabelColumnName { get; set; } = "SegmentLabel";

    /// <summary>Predicted confidences: Vector&lt;Single&gt;. Default <c>SegmentScore</c>.</summary>
    public string ScoreColumnName { get; set; } = "SegmentScore";

    /// <summary>Ground-truth starts: Vector&lt;Single&gt;. Default <c>GroundTruthStart</c>.</summary>
    public string GroundTruthStartColumnName { get; set; } = "GroundTruthStart";

    /// <summary>Ground-truth ends: Vector&lt;Single&gt;. Default <c>GroundTruthEnd</c>.</summary>
    public string GroundTruthEndColumnName { get; set; } = "GroundTruthEnd";

    /// <summary>Ground-truth classes: Vector&lt;Key&lt;UInt32&gt;&gt; with text key values. Default <c>GroundTruthLabel</c>.</summary>
    public string GroundTruthLabelColumnName { get; set; } = "GroundTruthLabel";

    internal void Validate()
    {
        if (Thresholds is null || Thresholds.Count == 0)
            throw new ArgumentException("At least one tIoU threshold is required.", nameof(Thresholds));
        foreach (var t in Thresholds)
            if (!(t >= 0 && t <= 1))
                throw new ArgumentOutOfRangeException(nameof(Thresholds), t, "tIoU thresholds must lie in [0, 1].");
        if (!(DuplicateTolerance >= 0) || double.IsInfinity(DuplicateTolerance))
            throw new ArgumentOutOfRangeException(nameof(DuplicateTolerance), DuplicateTolerance, "The duplicate tolerance must be a finite value ≥ 0.");
    }
}

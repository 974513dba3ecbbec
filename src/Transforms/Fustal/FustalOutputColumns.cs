namespace MLNetExtensions.Transforms.Fustal;

/// <summary>
/// Output column names of the FuSTAL components. The segment columns default to the names
/// <c>mlContext.TemporalLocalization().Evaluate</c> reads, so a scored view is evaluated as it is.
/// </summary>
public sealed record FustalOutputColumns
{
    /// <summary>Video-level class scores. Default <c>Score</c>.</summary>
    public string Score { get; init; } = "Score";
    /// <summary>Class activation sequence (T'×K, snippet-major). Default <c>ClassActivation</c>.</summary>
    public string ClassActivation { get; init; } = "ClassActivation";
    /// <summary>Segment starts in seconds. Default <c>SegmentStart</c>.</summary>
    public string Start { get; init; } = "SegmentStart";
    /// <summary>Segment ends in seconds. Default <c>SegmentEnd</c>.</summary>
    public string End { get; init; } = "SegmentEnd";
    /// <summary>Segment confidences. Default <c>SegmentScore</c>.</summary>
    public string SegmentScore { get; init; } = "SegmentScore";
    /// <summary>Segment classes (keys). Default <c>SegmentLabel</c>.</summary>
    public string Label { get; init; } = "SegmentLabel";
}

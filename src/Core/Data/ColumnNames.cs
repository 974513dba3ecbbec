namespace MLNetExtensions.Core.Data;

/// <summary>ML.NET's default column names and annotation kinds (its own constants are internal).</summary>
public static class ColumnNames
{
    public const string Label = "Label";
    public const string Features = "Features";
    public const string Image = "Image";
    public const string Score = "Score";
    public const string PredictedLabel = "PredictedLabel";
    /// <summary>The per-pixel label map of the segmenters.</summary>
    public const string Mask = "Mask";
    /// <summary>The clip column of the video classifiers (T×C×H×W floats).</summary>
    public const string Video = "Video";

    internal const string KeyValues = "KeyValues";
    internal const string SlotNames = "SlotNames";
    internal const string ScoreColumnKind = "ScoreColumnKind";
    internal const string ScoreValueKind = "ScoreValueKind";
    internal const string ScoreColumnSetId = "ScoreColumnSetId";
    internal const string TrainingLabelValues = "TrainingLabelValues";
}

namespace MLNetExtensions.Evaluators.TemporalLocalization;

/// <summary>A ground-truth action instance: <paramref name="Label"/> happens in <paramref name="VideoId"/> from <paramref name="Start"/> to <paramref name="End"/> (seconds, or any unit shared with the predictions).</summary>
public readonly record struct GroundTruthSegment(string VideoId, double Start, double End, string Label);

/// <summary>A detected action instance with its confidence <paramref name="Score"/> (higher is more confident).</summary>
public readonly record struct PredictedSegment(string VideoId, double Start, double End, string Label, double Score);

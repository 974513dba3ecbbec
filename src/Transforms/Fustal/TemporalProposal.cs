namespace MLNetExtensions.Transforms.Fustal;

/// <summary>An action proposal of one video: class index (0-based), confidence, and [start, end] in seconds (or grid steps once converted).</summary>
public readonly record struct TemporalProposal(int ClassIndex, double Score, double Start, double End)
{
    /// <summary>End − start.</summary>
    public double Length => End - Start;
}

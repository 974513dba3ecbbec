namespace MLNetExtensions.Transforms.Fustal;

/// <summary>
/// Seconds ↔ student feature-grid index for features of <c>window</c> frames every <c>stride</c> frames
/// (ActionFormer THUMOS: 16 and 4): <c>g = (t·fps − window/2)/stride</c>, <c>t = (g·stride + window/2)/fps</c>.
/// </summary>
public static class StudentGrid
{
    /// <summary>Grid position of <paramref name="seconds"/> (small negative values are possible near 0, as in the original).</summary>
    public static double ToGrid(double seconds, double fps, double stride = 4, double window = 16) =>
        (seconds * fps - 0.5 * window) / stride;

    /// <summary>Seconds of grid position <paramref name="grid"/>.</summary>
    public static double ToSeconds(double grid, double fps, double stride = 4, double window = 16) =>
        (grid * stride + 0.5 * window) / fps;

    /// <summary>Proposals in seconds → grid, scores and classes unchanged.</summary>
    public static List<TemporalProposal> ToGrid(IEnumerable<TemporalProposal> proposals, double fps, double stride = 4, double window = 16) =>
        proposals.Select(p => p with { Start = ToGrid(p.Start, fps, stride, window), End = ToGrid(p.End, fps, stride, window) }).ToList();
}

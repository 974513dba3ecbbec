namespace MLNetExtensions.Transforms.Fustal;

/// <summary>
/// Phase-2 targets of the EMA distillation (note fustal.md §5.2): the EMA model's own post-processed predictions on the
/// training clip, kept when their score exceeds η' (the single best one when none does), converted to the student grid
/// with negative positions clipped to 0.
/// </summary>
public static class EmaTargets
{
    /// <summary>Targets in grid steps from <paramref name="predictions"/> in seconds.</summary>
    public static List<TemporalProposal> FromPredictions(IReadOnlyList<TemporalProposal> predictions, double fps, double eta = 0.4, double stride = 4, double window = 16)
    {
        ArgumentNullException.ThrowIfNull(predictions);
        var kept = predictions.Where(p => p.Score > eta).ToList();
        if (kept.Count == 0 && predictions.Count > 0) kept.Add(predictions.MaxBy(p => p.Score));
        return kept.Select(p => p with
        {
            Start = Math.Max(0, StudentGrid.ToGrid(p.Start, fps, stride, window)),
            End = Math.Max(0, StudentGrid.ToGrid(p.End, fps, stride, window)),
        }).ToList();
    }
}

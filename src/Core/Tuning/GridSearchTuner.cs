namespace MLNetExtensions.Core.Tuning;

/// <summary>
/// Every combination of the parameters' <see cref="SweepParameter.GridValues"/> (Cartesian product), first parameter
/// slowest, last fastest. An empty space gives one setting: the defaults.
/// </summary>
public sealed class GridSearchTuner : ISweepTuner
{
    /// <inheritdoc/>
    public string Description => "grid search";

    /// <summary>Number of settings the grid has over <paramref name="parameters"/>.</summary>
    public static long Count(IReadOnlyList<SweepParameter> parameters) =>
        parameters.Aggregate(1L, (n, p) => checked(n * p.GridValues.Count));

    /// <inheritdoc/>
    public IEnumerable<ParameterSet> Propose(IReadOnlyList<SweepParameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var grids = parameters.Select(p => p.GridValues).ToArray();
        var index = new int[grids.Length];
        while (true)
        {
            yield return new ParameterSet(parameters.Select((p, i) => (p.Name, grids[i][index[i]])));
            // Odometer: advance the last digit, carry to the left.
            int k = grids.Length - 1;
            while (k >= 0 && ++index[k] == grids[k].Count) index[k--] = 0;
            if (k < 0) yield break;
        }
    }
}

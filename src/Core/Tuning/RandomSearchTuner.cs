namespace MLNetExtensions.Core.Tuning;

/// <summary>
/// Seeded random search: <see cref="Trials"/> settings, each parameter drawn independently (uniform, log-uniform for
/// log ranges, uniform over the values of a choice). The sequence depends only on the seed and the space, so a
/// resumed or extended sweep (more trials, same seed) proposes the same first settings. Duplicates are redrawn;
/// a small discrete space that runs out of new settings ends the sequence early.
/// </summary>
public sealed class RandomSearchTuner : ISweepTuner
{
    private const int MaxRedraws = 1000;

    /// <summary>Creates a random search of <paramref name="trials"/> settings.</summary>
    public RandomSearchTuner(int trials, int seed = 0)
    {
        if (trials < 1) throw new ArgumentOutOfRangeException(nameof(trials), trials, "A random search needs at least 1 trial.");
        Trials = trials;
        Seed = seed;
    }

    /// <summary>Number of settings proposed.</summary>
    public int Trials { get; }
    /// <summary>Seed of the draws (System.Random's seeded generator, stable across runs and platforms).</summary>
    public int Seed { get; }

    /// <inheritdoc/>
    public string Description => $"random search ({Trials} settings, seed {Seed})";

    /// <inheritdoc/>
    public IEnumerable<ParameterSet> Propose(IReadOnlyList<SweepParameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var random = new Random(Seed);
        var seen = new HashSet<string>();
        for (int t = 0; t < Trials; t++)
        {
            ParameterSet? set = null;
            for (int attempt = 0; attempt < MaxRedraws && set == null; attempt++)
            {
                var candidate = new ParameterSet(parameters.Select(p => (p.Name, p.Sample(random))).ToArray());
                if (seen.Add(candidate.Key)) set = candidate;
            }
            if (set == null) yield break; // the (discrete) space has no new setting left
            yield return set;
        }
    }
}

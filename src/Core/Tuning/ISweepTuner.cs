namespace MLNetExtensions.Core.Tuning;

/// <summary>
/// Proposes the settings a sweep evaluates, in a deterministic order: the same tuner over the same space must
/// propose the same sequence every time, which is what lets a sweep resume from its results file.
/// </summary>
public interface ISweepTuner
{
    /// <summary>Short description written to logs, e.g. <c>random search (12 settings, seed 0)</c>.</summary>
    string Description { get; }

    /// <summary>The settings to evaluate, in order.</summary>
    IEnumerable<ParameterSet> Propose(IReadOnlyList<SweepParameter> parameters);
}

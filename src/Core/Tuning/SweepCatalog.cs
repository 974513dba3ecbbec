using System.ComponentModel;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace MLNetExtensions.Core.Tuning;

/// <summary>
/// <c>mlContext.Sweeps()</c>: search spaces, tuners and options sweeps for the suite's components. Named so it does
/// not clash with Microsoft.ML.AutoML's <c>mlContext.Auto()</c>. Sweeps created here log to <c>MLContext.Log</c>.
/// </summary>
public sealed class SweepCatalog
{
    internal SweepCatalog(MLContext mlContext) => Context = mlContext;

    /// <summary>The MLContext this catalog belongs to.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public MLContext Context { get; }

    /// <summary>An empty search space over <typeparamref name="TOptions"/>, to build fluently.</summary>
    public SearchSpace<TOptions> SearchSpace<TOptions>() where TOptions : class => new();

    /// <summary>The search space declared by <see cref="SweepRangeAttribute"/>/<see cref="SweepChoiceAttribute"/> on <typeparamref name="TOptions"/>.</summary>
    public SearchSpace<TOptions> SearchSpaceFromAttributes<TOptions>() where TOptions : class => Tuning.SearchSpace<TOptions>.FromAttributes();

    /// <summary>Grid search: every combination, deterministic order.</summary>
    public GridSearchTuner GridSearch() => new();

    /// <summary>Seeded random search over <paramref name="trials"/> settings.</summary>
    public RandomSearchTuner RandomSearch(int trials, int seed = 0) => new(trials, seed);

    /// <summary>Creates a sweep (see <see cref="OptionsSweep{TOptions}"/>); set its Maximize, SeedsPerTrial, ResultsPath, … then call Run.</summary>
    /// <param name="createOptions">Returns fresh base options for every trial.</param>
    /// <param name="space">The swept properties.</param>
    /// <param name="tuner">Proposes the settings.</param>
    /// <param name="evaluate">Trains and evaluates with the trial's options; returns the metric.</param>
    public OptionsSweep<TOptions> Create<TOptions>(Func<TOptions> createOptions, SearchSpace<TOptions> space, ISweepTuner tuner,
        Func<TOptions, TrialContext, CancellationToken, double> evaluate) where TOptions : class =>
        new(createOptions, space, tuner, evaluate, ((IHostEnvironment)Context).Register("OptionsSweep"));
}

/// <summary>Entry point of the sweep catalog.</summary>
public static class SweepCatalogExtensions
{
    /// <summary>Options sweeps (grid/random search over a component's options) for this MLContext.</summary>
    public static SweepCatalog Sweeps(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return new SweepCatalog(mlContext);
    }
}

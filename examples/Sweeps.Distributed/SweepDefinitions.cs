using MLNetExtensions.Core.Tuning;

namespace MLNetExtensions.Examples.SweepsDistributed;

/// <summary>Options of the toy sweep: no training, a fixed sleep, a metric computed from the options and the seed.</summary>
public sealed class ToyOptions
{
    /// <summary>The swept value.</summary>
    public double Rate { get; set; } = 0.01;
}

/// <summary>
/// The sweeps of this application. The coordinator and every worker build them from this same code (a worker looks a
/// sweep up by name and runs the trials it is sent), which is why no code has to travel between machines.
/// </summary>
public static class SweepDefinitions
{
    /// <summary>mlp: learning rate × hidden width, <see cref="SweepSettings.Seeds"/> seeds each; minimise the validation loss.</summary>
    public static OptionsSweep<MlpOptions> Mlp(SweepSettings s) =>
        new(() => new MlpOptions { Steps = s.Steps },
            new SearchSpace<MlpOptions>().Values(o => o.LearningRate, new[] { 1e-3, 1e-2 }, logBase: true).Choice(o => o.Hidden, 16, 64),
            new GridSearchTuner(),
            (o, t, ct) => MlpTrial.Run(o, t.Seed, ct))
        { SeedsPerTrial = s.Seeds, BaseSeed = 0, Maximize = false, MetricName = "valid_loss" };

    /// <summary>toy: 4 rates × seeds, each trial sleeps <see cref="SweepSettings.ToyMilliseconds"/> (cancellable).</summary>
    public static OptionsSweep<ToyOptions> Toy(SweepSettings s) =>
        new(() => new ToyOptions(),
            new SearchSpace<ToyOptions>().Values(o => o.Rate, new[] { 1e-4, 1e-3, 1e-2, 1e-1 }, logBase: true),
            new GridSearchTuner(),
            (o, t, ct) => { ct.WaitHandle.WaitOne(s.ToyMilliseconds); ct.ThrowIfCancellationRequested(); return Math.Log10(o.Rate) + 0.01 * t.Seed; })
        { SeedsPerTrial = s.Seeds, BaseSeed = 0 };
}

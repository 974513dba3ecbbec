using MLNetExtensions.Core.Tuning;
using Xunit;

namespace MLNetExtensions.Tests.Tuning;

/// <summary>Grid and random search proposals.</summary>
public class TunerTests
{
    private static SearchSpace<ToyOptions> Space() => new SearchSpace<ToyOptions>()
        .Values(o => o.Rate, new[] { 0.1, 0.2 })
        .Choice(o => o.Width, 1, 2, 4)
        .Choice(o => o.Mode, "a", "b");

    [Fact]
    public void GridEnumeratesTheCartesianProductFirstParameterSlowest()
    {
        var sets = new GridSearchTuner().Propose(Space().Parameters).ToList();
        Assert.Equal(12, sets.Count);
        Assert.Equal(12, GridSearchTuner.Count(Space().Parameters));
        Assert.Equal(12, sets.Select(s => s.Key).Distinct().Count());
        var expected = from r in new[] { 0.1, 0.2 } from w in new[] { 1, 2, 4 } from m in new[] { "a", "b" } select $"Rate={r}, Width={w}, Mode={m}";
        Assert.Equal(expected, sets.Select(s => s.Key));
        Assert.Equal(sets, new GridSearchTuner().Propose(Space().Parameters).ToList()); // deterministic
        Assert.Single(new GridSearchTuner().Propose(Array.Empty<SweepParameter>())); // empty space: the defaults once
    }

    [Fact]
    public void RandomSearchIsDeterministicPerSeedAndRespectsBoundsAndLogScale()
    {
        var space = new SearchSpace<ToyOptions>().Range(o => o.Rate, 1e-4, 1e-2, logBase: true).Range(o => o.Scale, 2, 3);
        var a = new RandomSearchTuner(2000, seed: 5).Propose(space.Parameters).ToList();
        var b = new RandomSearchTuner(2000, seed: 5).Propose(space.Parameters).ToList();
        var c = new RandomSearchTuner(2000, seed: 6).Propose(space.Parameters).ToList();
        Assert.Equal(a, b);
        Assert.NotEqual(a.Take(5), c.Take(5));
        // Extending the sweep (more trials, same seed) keeps the first settings.
        Assert.Equal(a.Take(10), new RandomSearchTuner(10, seed: 5).Propose(space.Parameters));
        var rates = a.Select(s => s.Get<double>("Rate")).ToArray();
        var scales = a.Select(s => s.Get<float>("Scale")).ToArray();
        Assert.All(rates, r => Assert.InRange(r, 1e-4, 1e-2));
        Assert.All(scales, s => Assert.InRange(s, 2f, 3f));
        // Log-uniform: each decade holds about half the draws (a linear draw would put ~9 % below 1e-3).
        double belowMid = rates.Count(r => r < 1e-3) / (double)rates.Length;
        Assert.InRange(belowMid, 0.45, 0.55);
        // Linear: the lower half of [2, 3] holds about half.
        Assert.InRange(scales.Count(s => s < 2.5f) / (double)scales.Length, 0.45, 0.55);
    }

    [Fact]
    public void RandomSearchOverASmallDiscreteSpaceStopsWhenNoNewSettingIsLeft()
    {
        var space = new SearchSpace<ToyOptions>().Choice(o => o.Width, 1, 2).Choice(o => o.Flag, true, false);
        var sets = new RandomSearchTuner(10, seed: 0).Propose(space.Parameters).ToList();
        Assert.Equal(4, sets.Count);
        Assert.Equal(4, sets.Select(s => s.Key).Distinct().Count());
        Assert.Throws<ArgumentOutOfRangeException>(() => new RandomSearchTuner(0));
    }
}

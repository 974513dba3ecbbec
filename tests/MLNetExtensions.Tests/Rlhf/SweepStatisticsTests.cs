using MLNetExtensions.Transforms.Rlhf.Sweep;
using Xunit;

namespace MLNetExtensions.Tests.Rlhf;

public class SweepStatisticsTests
{
    [Fact]
    public void SelectionSpreadsOverAccuracyKeepingTheMaximumAndStepZero()
    {
        long[] steps = { 0, 5, 10, 15, 20, 25, 30, 35, 40 };
        double[] acc = { 0.52, 0.40, 0.60, 0.61, 0.70, 0.72, 0.80, 0.79, 0.75 };
        var pick = CheckpointSelection.EvenlyInAccuracy(steps, acc, 4);
        Assert.Equal(4, pick.Length);
        Assert.Contains(0, pick);                      // step 0
        Assert.Contains(6, pick);                      // the maximum (0.80)
        Assert.DoesNotContain(1, pick);                // the lowest is dropped as an outlier
        // Two targets between the second-lowest (0.52, already step 0) and 0.80: 0.52 → next nearest unused, 0.80 → 0.79.
        Assert.Equal(new[] { 0, 2, 7, 6 }, pick);
        Assert.Equal(3, CheckpointSelection.EvenlyInAccuracy(steps.Take(3).ToArray(), acc.Take(3).ToArray(), 5).Length);
    }

    [Fact]
    public void SpearmanQuadraticAndParadoxRuleMatchHandCases()
    {
        Assert.Equal(1.0, SweepStatistics.Spearman(new[] { 1.0, 2, 3, 4 }, new[] { 10.0, 20, 30, 40 }), 12);
        Assert.Equal(-1.0, SweepStatistics.Spearman(new[] { 1.0, 2, 3 }, new[] { 3.0, 2, 1 }), 12);
        Assert.Equal(0.5, SweepStatistics.Spearman(new[] { 1.0, 2, 3 }, new[] { 1.0, 3, 2 }), 12);
        var (a, b, c) = SweepStatistics.Quadratic(new[] { 0.5, 0.6, 0.7, 0.8 }, new[] { 0.5, 0.6, 0.7, 0.8 }.Select(x => 1 + 2 * x - 3 * x * x).ToArray());
        Assert.Equal(1, a, 8); Assert.Equal(2, b, 8); Assert.Equal(-3, c, 8);

        // An inverted U: the 0.65 RM is best by a clear, seed-consistent margin; the most accurate (0.75) is worse.
        var points = new[]
        {
            new CurvePoint("rm0", 0.55, new[] { 0.50, 0.52, 0.51 }),
            new CurvePoint("rm1", 0.65, new[] { 0.80, 0.82, 0.81 }),
            new CurvePoint("rm2", 0.75, new[] { 0.60, 0.61, 0.62 }),
        };
        var v = SweepStatistics.Analyse(points, seed: 1);
        Assert.Equal("rm1", v.BestPerformingRm);
        Assert.Equal("rm2", v.MostAccurateRm);
        Assert.Equal(0.81 - 0.61, v.Gap, 9);
        Assert.True(v.GapCiLow > 0.15 && v.GapCiHigh < 0.25, $"CI [{v.GapCiLow}, {v.GapCiHigh}]");
        Assert.True(v.ParadoxObserved);
        Assert.True(v.QuadC < 0 && v.VertexInside);
        // Monotone curve: no paradox.
        var mono = SweepStatistics.Analyse(points.Select((p, i) => p with { PerSeed = p.PerSeed.Select(x => x + i).ToArray() }).ToArray(), seed: 1);
        Assert.False(mono.ParadoxObserved);
        Assert.Equal(1.0, mono.Spearman, 12);
        // Best RM within 0.02 of the maximum accuracy: not a paradox even with a significant gap.
        var close = SweepStatistics.Analyse(new[] { points[0], points[1] with { Accuracy = 0.74 }, points[2] }, seed: 1);
        Assert.False(close.ParadoxObserved);
    }
}

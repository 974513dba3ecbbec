using MLNetExtensions.Evaluators.TemporalLocalization;
using Xunit;

namespace MLNetExtensions.Tests.Fustal;

public sealed class NumpyCompatTests
{
    private static long[] Bits(double[] v) => v.Select(BitConverter.DoubleToInt64Bits).ToArray();

    [Fact]
    public void DefaultThresholdsAreNumpyLinspaceBitForBit()
    {
        // numpy.linspace(0.1, 0.7, 7).view(np.int64): step·i + start, last = stop.
        var expected = new[] { 0x3fb999999999999aL, 0x3fc999999999999aL, 0x3fd3333333333333L, 0x3fd999999999999aL, 0x3fe0000000000000L, 0x3fe3333333333333L, 0x3fe6666666666666L };
        Assert.Equal(expected, Bits(NumpyCompat.Linspace(0.1, 0.7, 7)));
        Assert.Equal(expected, Bits(new TemporalDetectionEvaluatorOptions().Thresholds.ToArray()));
        // 0.1·3 accumulated as 0.1 + 0.1 + 0.1 would give 0.30000000000000004 instead.
        Assert.NotEqual(BitConverter.DoubleToInt64Bits(0.1 + 0.1 + 0.1), expected[2]);
    }

    [Fact]
    public void LinspaceMatchesNumpyWhereNaiveFormulasDiffer()
    {
        Assert.Equal(0.39999999999999997, NumpyCompat.Linspace(0.3, 0.7, 5)[1]);
        Assert.Equal(0x3fd9999999999999L, BitConverter.DoubleToInt64Bits(NumpyCompat.Linspace(0.3, 0.7, 5)[1]));
        // ActivityNet's default linspace(0.5, 0.95, 10): element 8 is 0.8999999999999999.
        Assert.Equal(0x3fecccccccccccccL, BitConverter.DoubleToInt64Bits(NumpyCompat.Linspace(0.5, 0.95, 10)[8]));
        Assert.Equal(0.95, NumpyCompat.Linspace(0.5, 0.95, 10)[9]);
        Assert.Equal(new[] { 2.0 }, NumpyCompat.Linspace(2, 5, 1));
    }

    [Fact]
    public void ThresholdBitsDecideAMatchAtEqualIoU()
    {
        // tIoU of [0, 0.39999999999999997] in [0, 1] is exactly linspace(0.3, 0.7, 5)[1]: a match; the literal 0.4 misses it.
        var gt = new[] { new GroundTruthSegment("v", 0, 1, "A") };
        var pred = new[] { new PredictedSegment("v", 0, 0.39999999999999997, "A", 1) };
        Assert.Equal(0.39999999999999997, TemporalIoU.Compute(0, 0.39999999999999997, 0, 1));
        var numpy = TemporalDetectionEvaluator.Evaluate(gt, pred, new() { Thresholds = NumpyCompat.Linspace(0.3, 0.7, 5) });
        var literal = TemporalDetectionEvaluator.Evaluate(gt, pred, new() { Thresholds = new[] { 0.3, 0.4, 0.5, 0.6, 0.7 } });
        Assert.Equal(1.0, numpy.MeanAveragePrecision[1]);
        Assert.Equal(0.0, literal.MeanAveragePrecision[1]);
    }

    [Fact]
    public void SumIsNumpyPairwise()
    {
        // Ten 0.1s: numpy's 8-accumulator sum gives exactly 1.0; a sequential loop gives 0.9999999999999999.
        var tenths = Enumerable.Repeat(0.1, 10).ToArray();
        double sequential = 0;
        foreach (var v in tenths) sequential += v;
        Assert.Equal(0.9999999999999999, sequential);
        Assert.Equal(1.0, NumpyCompat.Sum(tenths));
        Assert.Equal(0.1, NumpyCompat.Mean(tenths));
        // Short inputs are summed left to right.
        Assert.Equal(0.1 + 0.2 + 0.3, NumpyCompat.Sum(new[] { 0.1, 0.2, 0.3 }));
        // Above 128 values the input is split in halves rounded down to a multiple of 8.
        var many = Enumerable.Range(0, 300).Select(i => 1.0 / (i + 1)).ToArray();
        Assert.Equal(NumpyCompat.Sum(many.AsSpan(0, 144)) + NumpyCompat.Sum(many.AsSpan(144)), NumpyCompat.Sum(many));
        Assert.True(double.IsNaN(NumpyCompat.Mean(ReadOnlySpan<double>.Empty)));
    }

    [Fact]
    public void MapOfTenClassesUsesThePairwiseMean()
    {
        // Ten classes, each AP 0.1 (one of ten instances found): numpy's mean is exactly 0.1.
        var gt = new List<GroundTruthSegment>();
        var pred = new List<PredictedSegment>();
        for (int c = 0; c < 10; c++)
        {
            for (int i = 0; i < 10; i++) gt.Add(new GroundTruthSegment("v", 20 * i, 20 * i + 10, "c" + c));
            pred.Add(new PredictedSegment("v", 0, 10, "c" + c, 1));
        }
        var m = TemporalDetectionEvaluator.Evaluate(gt, pred, new() { Thresholds = new[] { 0.5 } });
        Assert.All(m.AveragePrecision[0], ap => Assert.Equal(0.1, ap));
        Assert.Equal(0.1, m.MeanAveragePrecision[0]);
    }
}

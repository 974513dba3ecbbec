using MLNetExtensions.Evaluators.Segmentation;
using Xunit;

namespace MLNetExtensions.Tests.Ssa;

public class SegmentationMetricsTests
{
    [Fact]
    public void HandComputedExampleWithIgnoreAndAnAbsentClass()
    {
        // K = 4; class 3 appears in neither map → NaN and left out of every mean.
        var acc = new SegmentationMetricsAccumulator(4);
        acc.Add(new[] { 0, 1, 1, 1, 0, 0 }, new[] { 0, 0, 1, 1, 255, 2 });
        var m = acc.Compute();
        // (gt, pred) kept: (0,0) (0,1) (1,1) (1,1) (2,0).
        Assert.Equal(new long[] { 1, 2, 0, 0 }, m.AreaIntersect);
        Assert.Equal(new long[] { 2, 3, 0, 0 }, m.AreaPred);
        Assert.Equal(new long[] { 2, 2, 1, 0 }, m.AreaLabel);
        Assert.Equal(new long[] { 3, 3, 1, 0 }, m.AreaUnion);
        Assert.Equal(1.0 / 3, m.IoU[0], 12);
        Assert.Equal(2.0 / 3, m.IoU[1], 12);
        Assert.Equal(0.0, m.IoU[2]);
        Assert.True(double.IsNaN(m.IoU[3]));
        Assert.Equal(1.0 / 3, m.MeanIoU, 12);            // (1/3 + 2/3 + 0) / 3
        Assert.Equal(new[] { 0.5, 1.0, 0.0 }, m.Acc.Take(3));
        Assert.True(double.IsNaN(m.Acc[3]));
        Assert.Equal(0.5, m.MeanAcc, 12);
        Assert.Equal(3.0 / 5, m.AAcc, 12);
        Assert.Equal((0.5 + 0.8 + 0.0) / 3, m.MeanDice, 12);
        Assert.Equal(5, acc.PixelCount);
        Assert.Equal(new long[,] { { 1, 1, 0, 0 }, { 0, 2, 0, 0 }, { 1, 0, 0, 0 }, { 0, 0, 0, 0 } }, acc.ConfusionMatrix());
    }

    [Fact]
    public void ClassOnlyPredictedHasZeroIoUAndNaNAccuracy()
    {
        var acc = new SegmentationMetricsAccumulator(3);
        acc.Add(new[] { 0, 2, 0, 0 }, new[] { 0, 0, 0, 0 });
        var m = acc.Compute();
        Assert.Equal(0.0, m.IoU[2]);           // predicted but never true: union > 0, so IoU 0 (counts in the mean)
        Assert.True(double.IsNaN(m.Acc[2]));   // no ground-truth pixels: accuracy undefined
        Assert.True(double.IsNaN(m.IoU[1]));   // absent from both
        Assert.Equal((0.75 + 0.0) / 2, m.MeanIoU, 12);
        Assert.Equal(0.75, m.MeanAcc, 12);      // only class 0 has ground truth
        Assert.Equal(0.75, m.AAcc, 12);
    }

    [Fact]
    public void AccumulatesOverImagesLikeMmsegTotals()
    {
        var acc = new SegmentationMetricsAccumulator(2);
        acc.Add(new[] { 0, 0 }, new[] { 0, 1 });
        acc.Add(new[] { 1, 1, 1 }, new[] { 1, 1, 0 });
        var m = acc.Compute();
        // Totals: pred [2,0]+[0,3] = [2,3]; label [1,1]+[1,2] = [2,3]; intersect [1,0]+[0,2] = [1,2].
        Assert.Equal(new long[] { 1, 2 }, m.AreaIntersect);
        Assert.Equal(new long[] { 2, 3 }, m.AreaPred);
        Assert.Equal(new long[] { 2, 3 }, m.AreaLabel);
        Assert.Equal((1.0 / 3 + 2.0 / 4) / 2, m.MeanIoU, 12); // not the mean of per-image mIoUs
        Assert.Equal(2, acc.Count);

        var a = new SegmentationMetricsAccumulator(2);
        var b = new SegmentationMetricsAccumulator(2);
        a.Add(new[] { 0, 0 }, new[] { 0, 1 });
        b.Add(new[] { 1, 1, 1 }, new[] { 1, 1, 0 });
        a.Merge(b);
        Assert.Equal(m, a.Compute() with { }, new MetricsComparer());
        acc.Reset();
        Assert.True(double.IsNaN(acc.Compute().MeanIoU));
        Assert.True(double.IsNaN(acc.Compute().AAcc));
    }

    [Fact]
    public void ReduceZeroLabelAndLabelMapFollowMmseg()
    {
        // reduce_zero_label: gt 0 → ignored, gt c → c−1, gt 255 stays ignored.
        var acc = new SegmentationMetricsAccumulator(2, reduceZeroLabel: true);
        acc.Add(new[] { 0, 1, 1, 0 }, new[] { 1, 2, 0, 255 });
        var m = acc.Compute();
        Assert.Equal(new long[] { 1, 1 }, m.AreaIntersect);
        Assert.Equal(new long[] { 1, 1 }, m.AreaLabel);
        Assert.Equal(2, acc.PixelCount);

        // label_map is applied to the original ids (no chaining), before reduce_zero_label.
        var mapped = new SegmentationMetricsAccumulator(3, labelMap: new Dictionary<int, int> { [5] = 1, [1] = 2 });
        mapped.Add(new[] { 1, 2, 0 }, new[] { 5, 1, 0 });
        Assert.Equal(1.0, mapped.Compute().AAcc);
    }

    [Fact]
    public void OutOfRangeValuesCountOnlyWhereMmsegHistcCountsThem()
    {
        var acc = new SegmentationMetricsAccumulator(2);
        // Prediction 7 is out of range: the pixel still adds to ground-truth area of class 0. Ground truth 9 (not ignored) adds
        // to the predicted area of class 1 only.
        acc.Add(new[] { 7, 1, 0 }, new[] { 0, 9, 0 });
        var m = acc.Compute();
        Assert.Equal(new long[] { 1, 0 }, m.AreaIntersect);
        Assert.Equal(new long[] { 1, 1 }, m.AreaPred);
        Assert.Equal(new long[] { 2, 0 }, m.AreaLabel);
        Assert.Equal(0.5, m.AAcc, 12);
    }

    [Fact]
    public void RejectsBadInput()
    {
        var acc = new SegmentationMetricsAccumulator(3);
        var ex = Assert.Throws<ArgumentException>(() => acc.Add(new[] { 0, 1 }, new[] { 0 }));
        Assert.Contains("must match", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SegmentationMetricsAccumulator(0));
        Assert.Throws<ArgumentException>(() => acc.Merge(new SegmentationMetricsAccumulator(4)));
        Assert.Throws<ArgumentException>(() => SegmentationMetrics.FromAreas(new long[] { 3 }, new long[] { 2 }, new long[] { 5 }));
    }

    private sealed class MetricsComparer : IEqualityComparer<SegmentationMetrics>
    {
        public bool Equals(SegmentationMetrics? x, SegmentationMetrics? y) =>
            x!.AreaIntersect.SequenceEqual(y!.AreaIntersect) && x.AreaPred.SequenceEqual(y.AreaPred) && x.AreaLabel.SequenceEqual(y.AreaLabel)
            && x.MeanIoU.Equals(y.MeanIoU) && x.AAcc.Equals(y.AAcc);
        public int GetHashCode(SegmentationMetrics obj) => 0;
    }
}

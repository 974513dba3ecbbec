using MLNetExtensions.Transforms.Fustal;
using Xunit;

namespace MLNetExtensions.Tests.Fustal;

/// <summary>Note fustal.md §3.2 hard-snippet bands, hand-computed with scipy's window conventions.</summary>
public sealed class HardSnippetRegionsTests
{
    private static int[] Ones(float[] mask) => mask.Select((v, i) => (v, i)).Where(x => x.v == 1).Select(x => x.i).ToArray();

    [Fact]
    public void MedianBinarisationIsStrictAndAveragesTheMiddlePair()
    {
        // Even length: median (0 + 5)/2 = 2.5.
        Assert.Equal(new[] { false, true, false, true }, HardSnippetRegions.Binarize(new[] { 0f, 5f, 0f, 5f }));
        // Odd length: the middle value itself is not above the median.
        Assert.Equal(new[] { false, false, true }, HardSnippetRegions.Binarize(new[] { 1f, 2f, 3f }));
    }

    [Fact]
    public void ErosionAndDilationUseScipyWindowsWithAZeroBorder()
    {
        var b = new[] { false, false, false, true, true, true, true, true, true, false, false, false }; // action at 3..8
        Assert.Equal(new[] { 4, 5, 6, 7 }, Enumerable.Range(0, 12).Where(t => HardSnippetRegions.Erode(b, 3)[t]));
        Assert.Equal(new[] { 6 }, Enumerable.Range(0, 12).Where(t => HardSnippetRegions.Erode(b, 6)[t]));           // t−3 … t+2
        Assert.Equal(Enumerable.Range(2, 8), Enumerable.Range(0, 12).Where(t => HardSnippetRegions.Dilate(b, 3)[t]));
        Assert.Equal(Enumerable.Range(0, 11), Enumerable.Range(0, 12).Where(t => HardSnippetRegions.Dilate(b, 6)[t])); // t−2 … t+3
        // Zero border: an action touching the start erodes there.
        Assert.False(HardSnippetRegions.Erode(new[] { true, true, true, false }, 3)[0]);
    }

    [Fact]
    public void InnerAndOuterBandsOfAnAction()
    {
        var a = new[] { 0f, 0, 0, 5, 5, 5, 5, 5, 5, 0, 0, 0 };
        var (inner, outer) = HardSnippetRegions.Compute(a);
        Assert.Equal(new[] { 4, 5, 7 }, Ones(inner)); // erode_3 \ erode_6
        Assert.Equal(new[] { 0, 1, 10 }, Ones(outer)); // dilate_6 \ dilate_3
        Assert.All(inner.Concat(outer), v => Assert.True(v == 0 || v == 1));
    }
}

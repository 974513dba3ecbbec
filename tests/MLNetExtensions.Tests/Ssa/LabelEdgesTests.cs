using MLNetExtensions.Transforms.Ssa;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using MLNetExtensions.Transforms.Segmentation;

namespace MLNetExtensions.Tests.Ssa;

public class LabelEdgesTests
{
    private static int[] Step(int h, int w, bool vertical, int at, int lo = 0, int hi = 3)
    {
        var img = new int[h * w];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) img[y * w + x] = (vertical ? x : y) < at ? lo : hi;
        return img;
    }

    [Fact]
    public void CannyMarksOneSideOfAStepAsOpenCvNonMaximumSuppression()
    {
        // Equal Sobel magnitudes on both sides of the step; OpenCV keeps the pixel with m > left && m >= right: the left one.
        var e = LabelEdges.Canny(8, 8, Step(8, 8, vertical: true, at: 4));
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++) Assert.Equal(x == 3, e[y * 8 + x]);
        var eh = LabelEdges.Canny(8, 8, Step(8, 8, vertical: false, at: 5));
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++) Assert.Equal(y == 4, eh[y * 8 + x]);
        Assert.DoesNotContain(true, LabelEdges.Canny(5, 5, new int[25]));
    }

    [Fact]
    public void ComputeZeroesTheBorderThenDilates()
    {
        using var scope = torch.NewDisposeScope();
        var label = torch.tensor(Step(10, 10, vertical: true, at: 5).Select(v => (long)v).ToArray(), new long[] { 1, 10, 10 });
        var noBorder = LabelEdges.Compute(label, border: 0)[0];
        var expected = torch.zeros(10, 10);
        expected[.., 3..6] = torch.tensor(1f);
        Assert.True(noBorder.allclose(expected));

        var border2 = LabelEdges.Compute(label, border: 2)[0];
        var expected2 = torch.zeros(10, 10);
        expected2[1..9, 3..6] = torch.tensor(1f); // edge rows 2..7 survive, dilation adds one row each side
        Assert.True(border2.allclose(expected2));

        // Official border 6 on a 10×10 map leaves nothing.
        Assert.Equal(0f, LabelEdges.Compute(label)[0].sum().item<float>());
        Assert.Throws<ArgumentException>(() => LabelEdges.Compute(torch.zeros(new long[] { 10, 10 }, ScalarType.Int64)));
    }
}

public class LabelEdgesOpenCvReferenceTests
{
    private static string Bits(bool[] a) => string.Concat(a.Select(v => v ? '1' : '0'));

    [Fact]
    public void MatchesOpenCvCannyBasedGetBd()
    {
        using var scope = torch.NewDisposeScope();
        foreach (var c in CannyReferenceData.Cases)
        {
            Assert.Equal(c.Canny, Bits(LabelEdges.Canny(c.H, c.W, c.Label.Select(v => (int)(byte)v).ToArray())));
            var label = torch.tensor(c.Label.Select(v => (long)v).ToArray(), new long[] { 1, c.H, c.W });
            foreach (var (border, expected) in new[] { (0, c.Border0), (2, c.Border2), (6, c.Border6) })
            {
                var edges = LabelEdges.Compute(label, border).flatten().data<float>().ToArray();
                Assert.Equal(expected, string.Concat(edges.Select(v => v > 0 ? '1' : '0')));
            }
        }
    }
}

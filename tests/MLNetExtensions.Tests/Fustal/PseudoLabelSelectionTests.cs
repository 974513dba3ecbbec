using MLNetExtensions.Transforms.Fustal;
using Xunit;

namespace MLNetExtensions.Tests.Fustal;

/// <summary>Note fustal.md §4: density prior over all classes of a video, then the confidence gate.</summary>
public sealed class PseudoLabelSelectionTests
{
    [Fact]
    public void DensityIsTheSummedIoUWithEveryOtherProposal()
    {
        var p = new[]
        {
            new TemporalProposal(0, 0.9, 0, 10), new TemporalProposal(0, 0.9, 5, 15), new TemporalProposal(0, 0.9, 0, 10), new TemporalProposal(0, 0.9, 50, 60),
        };
        var d = PseudoLabelSelection.Densities(p);
        Assert.Equal(1.0 / 3 + 1, d[0], 12); // self excluded: IoU with [5,15] and with the identical [0,10]
        Assert.Equal(2.0 / 3, d[1], 12);
        Assert.Equal(0.0, d[3]);
    }

    [Fact]
    public void ClassesArePooled()
    {
        // A (class 0) overlaps only B (class 1): pooled densities keep both; per-class pooling would keep neither.
        var a = new TemporalProposal(0, 0.9, 0, 10);
        var b = new TemporalProposal(1, 0.6, 2, 10);
        var c = new TemporalProposal(0, 0.9, 50, 60);
        Assert.Equal(new[] { a, b }, PseudoLabelSelection.Select(new[] { a, b, c }));
    }

    [Fact]
    public void DensityBoundIsInclusiveAndScoreBoundIsStrict()
    {
        // [0,10] and [8,10] overlap by exactly 0.2 = γ: kept. A score of exactly η = 0.4 is not.
        var a = new TemporalProposal(0, 0.41, 0, 10);
        var b = new TemporalProposal(0, 0.4, 8, 10);
        Assert.Equal(new[] { a }, PseudoLabelSelection.Select(new[] { a, b }));
        Assert.Empty(PseudoLabelSelection.Select(new[] { a, b }, gamma: 0.2000001));
        Assert.Equal(new[] { a, b }, PseudoLabelSelection.Select(new[] { a, b }, eta: 0.39));
    }

    [Fact]
    public void GammaZeroKeepsIsolatedConfidentProposals()
    {
        var lone = new TemporalProposal(3, 0.8, 1, 2);
        Assert.Equal(new[] { lone }, PseudoLabelSelection.Select(new[] { lone }, gamma: 0));
        Assert.Empty(PseudoLabelSelection.Select(new[] { lone }));
    }

    [Fact]
    public void GridConversionFollowsTheFeatureWindowAndStride()
    {
        Assert.Equal(5.5, StudentGrid.ToGrid(1.0, fps: 30));          // (30 − 8) / 4
        Assert.Equal(1.0, StudentGrid.ToSeconds(5.5, fps: 30), 12);
        Assert.Equal(-2.0, StudentGrid.ToGrid(0, fps: 30));           // negative near 0, as in the original
        var g = StudentGrid.ToGrid(new[] { new TemporalProposal(2, 0.7, 1.0, 2.0) }, 30);
        Assert.Equal(new TemporalProposal(2, 0.7, 5.5, 13), Assert.Single(g));
    }
}

using MLNetExtensions.Transforms.Fustal;
using Xunit;

namespace MLNetExtensions.Tests.Fustal;

/// <summary>Note fustal.md §3.5, step by step, on hand-computed inputs.</summary>
public sealed class ProposalPostProcessingTests
{
    private const double Tol = 1e-12;

    [Fact]
    public void DefaultThresholdListsAreNumpyArange()
    {
        var o = new ProposalOptions();
        Assert.Equal(10, o.CasThresholds.Count);
        Assert.Equal(0.07500000000000001, o.CasThresholds[3]); // 3 · 0.025 in numpy's fill
        Assert.Equal(0.225, o.CasThresholds[9]);
        Assert.Equal(33, o.ActionnessThresholds.Count);
        Assert.Equal(0.1, o.ActionnessThresholds[0]);
        // δ = (0.1 + 0.025) − 0.1 = 0.024999999999999994, so the last value is 0.1 + 32δ.
        Assert.Equal(0.8999999999999998, o.ActionnessThresholds[32]);
        Assert.Empty(SegmentMath.Arange(1, 1, 0.5));
    }

    [Fact]
    public void MinMaxNormalizationClipsMinAndMaxAtZero()
    {
        Assert.Equal(new[] { 0f, 1f / 3, 1f }, ActivationSequence.MinMaxNormalize(new[] { -1f, 1f, 3f })); // min → 0, value → clamped
        Assert.Equal(new[] { 0f, 0.5f, 1f }, ActivationSequence.MinMaxNormalize(new[] { 1f, 2f, 3f }));    // positive min is used
        Assert.Equal(new[] { 0f, 0f }, ActivationSequence.MinMaxNormalize(new[] { 2f, 2f }));              // zero range → divide by 1
        Assert.Equal(new[] { 0f, 0f }, ActivationSequence.MinMaxNormalize(new[] { -2f, -1f }));
    }

    [Fact]
    public void UpsamplingIsLinearWithExtrapolationPastTheLastSnippet()
    {
        Assert.Equal(new[] { 0, 0.5, 1, 2, 3, 4 }, ActivationSequence.Upsample(new[] { 0f, 1f, 3f }, 2));
        Assert.Equal(750 * 24, ActivationSequence.Upsample(new float[750], 24).Length);
        Assert.Equal(new[] { 5.0, 5, 5 }, ActivationSequence.Upsample(new[] { 5f }, 3));
    }

    [Fact]
    public void RunsAreMaximalPositiveStretchesAtOrAboveTheThreshold()
    {
        var v = new[] { 0, 0.5, 0.6, 0, 0.7, 0.1, 0.9, 0.9 };
        Assert.Equal(new[] { (1, 2), (6, 7) }, ProposalGrouping.Runs(v, 0.5)); // 0.5 itself is kept; the single 0.7 is too short
        Assert.Equal(new[] { (1, 2), (4, 7) }, ProposalGrouping.Runs(v, 0.0)); // θ = 0 keeps strictly positive values
        Assert.Equal(new[] { (1, 2), (4, 4), (6, 7) }, ProposalGrouping.Runs(v, 0.5, minLength: 1));
    }

    [Fact]
    public void OuterInnerContrastUsesTruncatedQuarterMargins()
    {
        // Run [2,5] of length 4: margins [1] and [6].
        var cas = new[] { 5, 0.1, 1, 1, 1, 1, 0.3, 5 };
        Assert.Equal(1 - (0.1 + 0.3) / 2 + 0.2 * 0.5, OuterInnerContrast.Score(cas, 2, 5, 0.5), Tol);
        // Run [1,2] of length 2: int(1 − 0.5) = 0 gives a left margin [0]; int(2 + 0.5) = 2 gives no right margin.
        var c2 = new[] { 0.9, 0.8, 0.2, 0.1, 0.5 };
        Assert.Equal(0.5 - 0.9 + 0.2, OuterInnerContrast.Score(c2, 1, 2, 1.0), Tol);
        // No margin at all: outer mean 0.
        Assert.Equal(0.5, OuterInnerContrast.Score(new[] { 0.5, 0.5 }, 0, 1, 0.0), Tol);
    }

    [Fact]
    public void NmsUsesThePlusOneOverlap()
    {
        Assert.Equal(1.0 / 3, SegmentMath.IoUPlusOne(0, 1, 1, 2), Tol); // touching segments overlap by "1"
        Assert.Equal(0.0, SegmentMath.IoU(0, 1, 1, 2));
        var kept = ProposalNms.Suppress(new[] { new TemporalProposal(0, 0.9, 0, 1), new TemporalProposal(0, 0.8, 1, 2) }, 0.3);
        Assert.Single(kept);
    }

    [Fact]
    public void NmsSuppressesAtOrAboveTheThresholdAndKeepsScoreOrder()
    {
        // [1,2] vs [0,3]: (2 − 1 + 1) / (4 + 2 − 2) = 0.5 → suppressed at 0.5.
        var p = new[] { new TemporalProposal(0, 0.7, 1, 2), new TemporalProposal(0, 0.9, 0, 3), new TemporalProposal(0, 0.8, 10, 12) };
        Assert.Equal(new[] { p[1], p[2] }, ProposalNms.Suppress(p, 0.5));
        Assert.Equal(new[] { p[1], p[2], p[0] }, ProposalNms.Suppress(p, 0.51));
    }

    [Fact]
    public void NmsScoreTiesKeepTheLaterProposal()
    {
        var p = new[] { new TemporalProposal(0, 0.5, 0, 10), new TemporalProposal(0, 0.5, 0, 11) };
        Assert.Equal(new[] { p[1] }, ProposalNms.Suppress(p, 0.5));
    }

    [Fact]
    public void PredictedClassesUseTheThresholdOrTheArgMax()
    {
        Assert.Equal(new[] { 0, 2 }, ProposalGenerator.PredictedClasses(new[] { 0.2f, 0.1f, 0.7f }, 0.2));
        Assert.Equal(new[] { 1 }, ProposalGenerator.PredictedClasses(new[] { 0.1f, 0.15f, 0.15f }, 0.2)); // first arg-max
    }

    [Fact]
    public void GeneratorOnAHandComputedSequence()
    {
        // T = 4, no up-sampling, one CAS threshold: class 0's normalised CAS is [0,1,1,0] → run [1,2].
        var cas = new float[,] { { 0, 9 }, { 2, 9 }, { 2, 9 }, { 0, 9 } };
        var o = new ProposalOptions { UpScale = 1, CasThresholds = new[] { 0.5 }, ActionnessThresholds = Array.Empty<double>() };
        var p = Assert.Single(ProposalGenerator.Generate(cas, new float[4], new[] { 0.9f, 0.1f }, originalLength: 4, o));
        Assert.Equal(0, p.ClassIndex);
        Assert.Equal(1 + 0.2 * 0.9f, p.Score, Tol);      // inner 1, left margin [0] is 0, no right margin (int(2.5) = 2)
        Assert.Equal(1 * 0.64, p.Start, Tol);            // f = 16·4 / (1·4·25) s per step
        Assert.Equal(3 * 0.64, p.End, Tol);
    }

    [Fact]
    public void ActionnessRunsAreScoredOnTheUnthresholdedCas()
    {
        // Actionness selects [1,2]; the CAS there is [1, 0.5] and 0 on the left margin.
        var cas = new float[,] { { 0 }, { 2 }, { 1 }, { 0 } };
        var aness = new[] { 0f, 1f, 1f, 0f };
        var o = new ProposalOptions { UpScale = 1, CasThresholds = Array.Empty<double>(), ActionnessThresholds = new[] { 0.9 } };
        var p = Assert.Single(ProposalGenerator.Generate(cas, aness, new[] { 1f }, 4, o));
        Assert.Equal(0.75 + 0.2, p.Score, Tol);
        // Under a CAS threshold of 0.9 the 0.5 would be zeroed and the run would be [1,1] (too short): no proposal.
        Assert.Empty(ProposalGenerator.Generate(cas, aness, new[] { 1f }, 4, new ProposalOptions { UpScale = 1, CasThresholds = new[] { 0.9 }, ActionnessThresholds = Array.Empty<double>() }));
    }

    [Fact]
    public void DefaultGeneratorFindsAPulseAndLeavesNoOverlappingSurvivors()
    {
        const int t = 40;
        var cas = new float[t, 3];
        var aness = new float[t];
        for (int i = 10; i < 20; i++) { cas[i, 1] = 1; aness[i] = 1; }
        for (int i = 28; i < 34; i++) { cas[i, 2] = 0.8f; aness[i] = 0.8f; }
        var props = ProposalGenerator.Generate(cas, aness, new[] { 0.05f, 0.6f, 0.3f }, originalLength: t);
        Assert.NotEmpty(props);
        Assert.All(props, p => Assert.Contains(p.ClassIndex, new[] { 1, 2 }));
        Assert.All(props, p => Assert.InRange(p.Start, 0, p.End));
        foreach (var cls in new[] { 1, 2 })
        {
            var mine = props.Where(p => p.ClassIndex == cls).ToList();
            Assert.NotEmpty(mine);
            for (int a = 0; a < mine.Count; a++)
                for (int b = a + 1; b < mine.Count; b++)
                    Assert.True(SegmentMath.IoUPlusOne(mine[a].Start, mine[a].End, mine[b].Start, mine[b].End) < 0.5);
            Assert.True(mine.Zip(mine.Skip(1)).All(x => x.First.Score >= x.Second.Score), "NMS keep order is by score");
        }
        // The best class-1 proposal covers snippets 10..19 = [6.4 s, 12.8 s].
        var best = props.Where(p => p.ClassIndex == 1).MaxBy(p => p.Score);
        Assert.True(SegmentMath.IoU(best.Start, best.End, 6.4, 12.8) > 0.85, $"best proposal [{best.Start}, {best.End}]");
    }

    [Fact]
    public void GeneratorRejectsMismatchedShapes()
    {
        var cas = new float[4, 2];
        Assert.Throws<ArgumentException>(() => ProposalGenerator.Generate(cas, new float[3], new float[2], 4));
        Assert.Throws<ArgumentException>(() => ProposalGenerator.Generate(cas, new float[4], new float[3], 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => ProposalGenerator.Generate(cas, new float[4], new float[2], 0));
    }
}

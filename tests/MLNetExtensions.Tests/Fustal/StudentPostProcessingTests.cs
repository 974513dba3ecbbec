using MLNetExtensions.Transforms.Fustal;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Fustal;

/// <summary>Note fustal.md §5.2–5.3 pure pieces: Gaussian soft-NMS, EMA phase-2 targets, EMA weight update.</summary>
public sealed class StudentPostProcessingTests
{
    private const double Tol = 1e-12;

    [Fact]
    public void GaussianSoftNmsDecaysByTheSquaredIoU()
    {
        var kept = SoftNms.Gaussian(new[] { new TemporalProposal(0, 0.9, 0, 10), new TemporalProposal(0, 0.8, 5, 15) });
        Assert.Equal(2, kept.Count);
        Assert.Equal(0.9, kept[0].Score);
        Assert.Equal(0.8 * Math.Exp(-(1.0 / 9) / 0.5), kept[1].Score, Tol); // IoU 1/3, no "+1"
    }

    [Fact]
    public void DecayedSegmentsAreReSelectedByTheirNewScore()
    {
        var a = new TemporalProposal(0, 0.9, 0, 10);
        var b = new TemporalProposal(0, 0.85, 1, 10); // IoU 0.9 with a → 0.85·e^{−1.62} ≈ 0.168
        var c = new TemporalProposal(0, 0.5, 20, 30);
        var kept = SoftNms.Gaussian(new[] { b, a, c });
        Assert.Equal(new[] { a.Start, c.Start, b.Start }, kept.Select(p => p.Start));
        Assert.Equal(0.85 * Math.Exp(-0.81 / 0.5), kept[2].Score, Tol);
    }

    [Fact]
    public void SegmentsFallingBelowTheMinimumScoreAreDiscarded()
    {
        // Identical segment: e^{−2}·0.0011 < 0.001 → discarded; a score of exactly 0.001 never enters.
        var kept = SoftNms.Gaussian(new[] { new TemporalProposal(0, 0.9, 0, 10), new TemporalProposal(0, 0.0011, 0, 10), new TemporalProposal(0, 0.001, 40, 50) });
        Assert.Single(kept);
        Assert.Equal(2, SoftNms.Gaussian(new[] { new TemporalProposal(0, 0.9, 0, 10), new TemporalProposal(0, 0.0011, 0, 10) }, minScore: 0).Count);
        Assert.Single(SoftNms.Gaussian(Enumerable.Range(0, 5).Select(i => new TemporalProposal(0, 0.5, 20 * i, 20 * i + 5)).ToList(), maxSegments: 1));
    }

    [Fact]
    public void MultiClassSoftNmsKeepsClassesApartAndSortsByScore()
    {
        var p = new[] { new TemporalProposal(1, 0.7, 0, 10), new TemporalProposal(0, 0.9, 0, 10), new TemporalProposal(1, 0.8, 0, 10) };
        var kept = SoftNms.MultiClass(p);
        Assert.Equal(new[] { 0.9, 0.8, 0.7 * Math.Exp(-2) }, kept.Select(k => k.Score), new ToleranceComparer(Tol));
        Assert.Equal(new[] { 0, 1, 1 }, kept.Select(k => k.ClassIndex));
        Assert.Equal(2, SoftNms.MultiClass(p, maxSegments: 2).Count);
    }

    [Fact]
    public void EmaTargetsKeepConfidentPredictionsOrTheBestOneOnGrid()
    {
        var preds = new[] { new TemporalProposal(0, 0.9, 1, 2), new TemporalProposal(1, 0.3, 0, 1) };
        Assert.Equal(new[] { new TemporalProposal(0, 0.9, 5.5, 13) }, EmaTargets.FromPredictions(preds, fps: 30));
        // None above η': the top-1, with the negative start (t = 0 → −2) clipped to 0.
        Assert.Equal(new[] { new TemporalProposal(1, 0.3, 0, 5.5) }, EmaTargets.FromPredictions(new[] { preds[1] }, fps: 30));
        Assert.Empty(EmaTargets.FromPredictions(Array.Empty<TemporalProposal>(), fps: 30));
    }

    private sealed class Tiny : nn.Module<Tensor, Tensor>
    {
        private readonly Linear fc = nn.Linear(2, 2);
        private readonly Tensor count = zeros(1, ScalarType.Int64);

        public Tiny() : base(nameof(Tiny)) => RegisterComponents();

        public Linear Fc => fc;
        public Tensor Count => count;

        public override Tensor forward(Tensor x) => fc.call(x);
    }

    [Fact]
    public void EmaUpdateBlendsEveryEntryIncludingBuffers()
    {
        using var ema = new Tiny();
        using var model = new Tiny();
        using (no_grad())
        {
            ema.Fc.weight!.fill_(0); ema.Fc.bias!.fill_(1);
            model.Fc.weight!.fill_(1); model.Fc.bias!.fill_(3);
            model.Count.fill_(10);
        }
        ModelEma.Update(ema, model, decay: 0.9);
        Assert.True(ema.Fc.weight!.allclose(full(2, 2, 0.1f), 1e-6, 1e-7));
        Assert.True(ema.Fc.bias!.allclose(full(2, 1.2f), 1e-6, 1e-6));
        Assert.Equal(1L, ema.Count.item<long>()); // 0.1f·10 in float32, truncated
        Assert.True(model.Fc.weight!.allclose(ones(2, 2)), "the source is not modified");
        ModelEma.Update(ema, model, decay: 0.999);
        Assert.Equal(0.999f * 0.1f + 0.001f, ema.Fc.weight![0, 0].item<float>(), 6);
    }

    private sealed class ToleranceComparer(double tol) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tol;
        public int GetHashCode(double obj) => 0;
    }
}

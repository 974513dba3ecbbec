using MLNetExtensions.Evaluators.TemporalLocalization;
using Xunit;

namespace MLNetExtensions.Tests.Fustal;

/// <summary>Hand-computed cases, one per rule of note fustal.md §8; each fails if its rule is broken.</summary>
public sealed class TemporalDetectionEvaluatorTests
{
    private const double Tol = 1e-12;

    private static GroundTruthSegment G(string v, double s, double e, string l = "A") => new(v, s, e, l);
    private static PredictedSegment P(string v, double s, double e, double score, string l = "A") => new(v, s, e, l, score);
    private static TemporalDetectionEvaluatorOptions At(params double[] t) => new() { Thresholds = t };

    private static double[] Ap(IEnumerable<GroundTruthSegment> gt, IEnumerable<PredictedSegment> pred, params double[] thresholds)
    {
        var m = TemporalDetectionEvaluator.Evaluate(gt, pred, At(thresholds));
        return m.MeanAveragePrecision.ToArray();
    }

    // Note §8 worked example (one class).
    private static readonly GroundTruthSegment[] WorkedGt = { G("v1", 10, 20), G("v1", 30, 40), G("v2", 5, 15) };
    private static readonly PredictedSegment[] WorkedPred =
    {
        P("v1", 11, 21, 0.9), P("v1", 12, 19, 0.8), P("v2", 0, 14, 0.7), P("v1", 31, 45, 0.6), P("v3", 0, 5, 0.5), P("v1", 29, 41, 0.4),
    };

    [Fact]
    public void WorkedExampleOfTheNote()
    {
        var ap = Ap(WorkedGt, WorkedPred, 0.1, 0.3, 0.5, 0.7);
        Assert.Equal(5.0 / 6, ap[0], Tol);
        Assert.Equal(5.0 / 6, ap[1], Tol);
        Assert.Equal(5.0 / 6, ap[2], Tol);
        Assert.Equal(4.0 / 9, ap[3], Tol);
    }

    [Fact]
    public void WorkedExampleDoesNotDependOnInputOrderWithoutTies()
    {
        var shuffled = new[] { WorkedPred[4], WorkedPred[1], WorkedPred[5], WorkedPred[0], WorkedPred[3], WorkedPred[2] };
        Assert.Equal(Ap(WorkedGt, WorkedPred, 0.5, 0.7), Ap(WorkedGt, shuffled, 0.5, 0.7));
    }

    [Fact]
    public void EmptyPredictionsGiveZero()
    {
        var m = TemporalDetectionEvaluator.Evaluate(WorkedGt, Array.Empty<PredictedSegment>());
        Assert.All(m.MeanAveragePrecision, v => Assert.Equal(0.0, v));
        Assert.Equal(0.0, m.AverageMeanAveragePrecision);
    }

    [Fact]
    public void GroundTruthAsPredictionsGivesOneAtEveryThreshold()
    {
        var gt = new[] { G("a", 0, 3, "X"), G("a", 5, 9, "Y"), G("b", 1, 2, "X"), G("c", 0.5, 7.25, "Z"), G("c", 8, 9, "Z") };
        var pred = gt.Select((g, i) => P(g.VideoId, g.Start, g.End, 1.0 - 0.1 * i, g.Label));
        var m = TemporalDetectionEvaluator.Evaluate(gt, pred);
        Assert.All(m.MeanAveragePrecision, v => Assert.Equal(1.0, v));
        Assert.Equal(1.0, m.AverageMeanAveragePrecision);
    }

    [Fact]
    public void DuplicatedPerfectPredictionIsAFalsePositive()
    {
        var gt = new[] { G("v", 0, 10), G("v", 20, 30) };
        // TP, FP (same instance again), TP → precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1 → AP = 1/2 + 1/2·2/3.
        var pred = new[] { P("v", 0, 10, 0.9), P("v", 0, 10, 0.8), P("v", 20, 30, 0.7) };
        Assert.Equal(5.0 / 6, Ap(gt, pred, 0.5)[0], Tol);
    }

    [Fact]
    public void ClassesComeFromTheGroundTruthAndAbsentClassPredictionsAreDropped()
    {
        var gt = new[] { G("v", 0, 10, "A"), G("w", 0, 10, "B") };
        var pred = new List<PredictedSegment> { P("v", 0, 10, 0.9, "A"), P("w", 0, 10, 0.8, "B") };
        var clean = TemporalDetectionEvaluator.Evaluate(gt, pred);
        pred.Add(P("v", 0, 10, 0.99, "C"));
        pred.Add(P("w", 0, 10, 0.95, "C"));
        var withExtra = TemporalDetectionEvaluator.Evaluate(gt, pred);
        Assert.Equal(new[] { "A", "B" }, withExtra.Classes);
        Assert.Equal(2, withExtra.DroppedPredictions);
        Assert.Equal(0, clean.DroppedPredictions);
        Assert.Equal(clean.MeanAveragePrecision, withExtra.MeanAveragePrecision);
        Assert.Equal(1.0, withExtra.AverageMeanAveragePrecision);
    }

    [Fact]
    public void ClassOrderIsFirstAppearanceInTheGroundTruth()
    {
        var gt = new[] { G("v", 0, 1, "zeta"), G("v", 2, 3, "alpha"), G("w", 0, 1, "zeta"), G("w", 4, 5, "mid") };
        var m = TemporalDetectionEvaluator.Evaluate(gt, Array.Empty<PredictedSegment>());
        Assert.Equal(new[] { "zeta", "alpha", "mid" }, m.Classes);
        Assert.Equal(new[] { 2, 1, 1 }, m.GroundTruthCounts);
    }

    [Fact]
    public void ClassWithoutPredictionsHasApZeroAndCountsInTheMean()
    {
        var gt = new[] { G("v", 0, 10, "A"), G("v", 20, 30, "B") };
        var m = TemporalDetectionEvaluator.Evaluate(gt, new[] { P("v", 0, 10, 0.9, "A") }, At(0.5));
        Assert.Equal(1.0, m.GetAveragePrecision("A", 0));
        Assert.Equal(0.0, m.GetAveragePrecision("B", 0));
        Assert.Equal(0.5, m.MeanAveragePrecision[0]);
    }

    [Fact]
    public void TemporalIoUHasNoPlusOne()
    {
        // inter 5, union 15 → 1/3; the "+1" convention would give 6/17 ≈ 0.353.
        Assert.Equal(1.0 / 3, TemporalIoU.Compute(0, 10, 5, 15), Tol);
        // At θ = 0.34 the match depends on the convention.
        Assert.Equal(0.0, Ap(new[] { G("v", 5, 15) }, new[] { P("v", 0, 10, 1) }, 0.34)[0]);
        Assert.Equal(1.0, Ap(new[] { G("v", 5, 15) }, new[] { P("v", 0, 10, 1) }, 0.33)[0]);
    }

    [Fact]
    public void PredictionsAreSortedPerClassOverAllVideos()
    {
        var gt = new[] { G("v1", 0, 10), G("v2", 0, 10) };
        // Global order TP(0.9) TP(0.5) FP(0.1) → AP 1; sorting inside each video and concatenating (TP FP TP) would give 5/6.
        var pred = new[] { P("v1", 0, 10, 0.9), P("v1", 50, 60, 0.1), P("v2", 0, 10, 0.5) };
        Assert.Equal(1.0, Ap(gt, pred, 0.5)[0], Tol);
    }

    [Fact]
    public void LocksAreKeptPerThreshold()
    {
        var gt = new[] { G("v", 0, 10) };
        // [0,6] (tIoU 0.6) takes the instance at θ 0.5 only; [0,10] then is FP at 0.5 but TP at 0.9.
        var pred = new[] { P("v", 0, 6, 0.9), P("v", 0, 10, 0.8) };
        var ap = Ap(gt, pred, 0.5, 0.9);
        Assert.Equal(1.0, ap[0], Tol);
        Assert.Equal(0.5, ap[1], Tol); // FP, TP → precision 1/2 at recall 1; a lock shared over thresholds gives 0
    }

    [Fact]
    public void LockedBestInstanceMovesOnToALowerIoUFreeOne()
    {
        var gt = new[] { G("v", 0, 10), G("v", 8, 20) };
        // Second prediction: tIoU 9/11 with the taken [0,10], 3/19 ≈ 0.158 with the free [8,20].
        var pred = new[] { P("v", 0, 10, 0.9), P("v", 1, 11, 0.8) };
        var ap = Ap(gt, pred, 0.1, 0.5);
        Assert.Equal(1.0, ap[0], Tol); // TP TP: moved on to [8,20]
        Assert.Equal(0.5, ap[1], Tol); // TP FP: 0.158 < 0.5 stops the search
    }

    [Fact]
    public void IoUEqualToTheThresholdMatches()
    {
        Assert.Equal(0.5, TemporalIoU.Compute(0, 5, 0, 10));
        Assert.Equal(1.0, Ap(new[] { G("v", 0, 10) }, new[] { P("v", 0, 5, 1) }, 0.5)[0]);
    }

    [Fact]
    public void ScoreTiesPutTheLaterRowFirst()
    {
        var gt = new[] { G("v", 0, 10) };
        // Equal scores: official order visits the later (TP) row first → TP FP → AP 1; a stable sort gives FP TP → 1/2.
        var pred = new[] { P("v", 20, 30, 0.5), P("v", 0, 10, 0.5) };
        Assert.Equal(1.0, Ap(gt, pred, 0.5)[0], Tol);
        Assert.Equal(0.5, Ap(gt, pred.Reverse(), 0.5)[0], Tol);
    }

    [Fact]
    public void IoUTiesBetweenInstancesPickTheLaterInstance()
    {
        var gt = new[] { G("v", 0, 10), G("v", 10, 20) };
        // [5,15] overlaps both by 1/3: it takes the later [10,20]; then [12,20] finds [10,20] locked, [0,10] at tIoU 0 → FP.
        // Taking the earlier instance would leave [10,20] free for it (AP 1).
        var pred = new[] { P("v", 5, 15, 0.9), P("v", 12, 20, 0.8) };
        Assert.Equal(0.5, Ap(gt, pred, 0.3)[0], Tol);
    }

    [Fact]
    public void VocAllPointInterpolationUsesTheMonotonePrecisionEnvelope()
    {
        // 3 instances, TP FP FP TP TP: precision 1, 1/2, 1/3, 1/2, 3/5 at recall 1/3, 1/3, 1/3, 2/3, 1.
        // Envelope → 1/3·1 + 1/3·3/5 + 1/3·3/5 = 11/15 (the mean precision at TPs would be 0.7).
        var gt = new[] { G("v", 0, 10), G("v", 20, 30), G("v", 40, 50) };
        var pred = new[] { P("v", 0, 10, 0.9), P("v", 60, 70, 0.8), P("v", 80, 90, 0.7), P("v", 20, 30, 0.6), P("v", 40, 50, 0.5) };
        Assert.Equal(11.0 / 15, Ap(gt, pred, 0.5)[0], Tol);
        Assert.Equal(11.0 / 15, ClassAveragePrecision.Interpolated(new[] { 1, 0.5, 1.0 / 3, 0.5, 0.6 }, new[] { 1.0 / 3, 1.0 / 3, 1.0 / 3, 2.0 / 3, 1 }), Tol);
        // Recall never reaching 1 adds nothing past the last recall step.
        Assert.Equal(0.5, ClassAveragePrecision.Interpolated(new[] { 1.0 }, new[] { 0.5 }), Tol);
    }

    [Fact]
    public void ZeroLengthSegmentsHaveIoUZeroInsteadOfNaN()
    {
        Assert.Equal(0.0, TemporalIoU.Compute(5, 5, 5, 5));
        // The official 0/0 = NaN would count this as a TP at every threshold.
        Assert.Equal(0.0, Ap(new[] { G("v", 5, 5), G("v", 0, 1) }, new[] { P("v", 5, 5, 1) }, 0.1, 0.7).Max());
    }

    [Fact]
    public void InvalidSegmentsAreRejectedWithTheirPosition()
    {
        var ex = Assert.Throws<ArgumentException>(() => TemporalDetectionEvaluator.Evaluate(new[] { G("v", 0, 1), G("v", 3, 2) }, Array.Empty<PredictedSegment>()));
        Assert.Contains("ground-truth segment 1", ex.Message);
        Assert.Contains("ends before it starts", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => TemporalDetectionEvaluator.Evaluate(new[] { G("v", 0, 1) }, new[] { P("v", 0, 1, double.NaN) }));
        Assert.Contains("prediction 0", ex.Message);
        Assert.Throws<ArgumentException>(() => TemporalDetectionEvaluator.Evaluate(Array.Empty<GroundTruthSegment>(), Array.Empty<PredictedSegment>()));
        Assert.Throws<ArgumentOutOfRangeException>(() => TemporalDetectionEvaluator.Evaluate(new[] { G("v", 0, 1) }, Array.Empty<PredictedSegment>(), At(1.5)));
    }

    [Fact]
    public void DeduplicationIsOffByDefault()
    {
        var gt = new[] { G("v", 0, 10), G("v", 0.0005, 10.0005), G("v", 3, 3) };
        var pred = new[] { P("v", 0, 10, 1) };
        var plain = TemporalDetectionEvaluator.Evaluate(gt, pred, At(0.5));
        Assert.Equal(1.0 / 3, plain.MeanAveragePrecision[0], Tol); // one of three instances found
        Assert.Equal(0, plain.RemovedGroundTruth);

        var dedup = TemporalDetectionEvaluator.Evaluate(gt, pred, new TemporalDetectionEvaluatorOptions { Thresholds = new[] { 0.5 }, RemoveDuplicateGroundTruth = true });
        Assert.Equal(1.0, dedup.MeanAveragePrecision[0], Tol);
        Assert.Equal(2, dedup.RemovedGroundTruth);
        Assert.Equal(new[] { 1 }, dedup.GroundTruthCounts);
    }

    [Fact]
    public void DeduplicationKeepsOtherClassesAndVideosAndRespectsTheTolerance()
    {
        var gt = new[] { G("v", 0, 10, "A"), G("v", 0, 10, "B"), G("w", 0, 10, "A"), G("v", 0.01, 10, "A") };
        var kept = TemporalDetectionEvaluator.RemoveDuplicates(gt, 1e-3);
        Assert.Equal(gt, kept);
        Assert.Equal(3, TemporalDetectionEvaluator.RemoveDuplicates(gt, 0.02).Count);
    }

    [Fact]
    public void MeansAreOverClassesThenThresholds()
    {
        var gt = new[] { G("v", 0, 10, "A"), G("v", 20, 30, "B") };
        var pred = new[] { P("v", 0, 6, 0.9, "A"), P("v", 20, 30, 0.9, "B") }; // A: tIoU 0.6
        var m = TemporalDetectionEvaluator.Evaluate(gt, pred, At(0.5, 0.7));
        Assert.Equal(new[] { 1.0, 0.5 }, m.MeanAveragePrecision);
        Assert.Equal(0.75, m.AverageMeanAveragePrecision);
        Assert.Equal(0.5, m.MeanAveragePrecisionAt(0.7));
    }

    [Fact]
    public void DataFrameHoldsPerClassApAndTheMapRow()
    {
        var m = TemporalDetectionEvaluator.Evaluate(
            new[] { G("v", 0, 10, "A"), G("v", 20, 30, "B") },
            new[] { P("v", 0, 6, 0.9, "A"), P("v", 20, 30, 0.9, "B") }, At(0.5, 0.7));
        var df = m.ToDataFrame();
        Assert.Equal(new[] { "Class", "GroundTruth", "Predictions", "AP@0.5", "AP@0.7", "Average" }, df.Columns.Select(c => c.Name));
        Assert.Equal(3, df.Rows.Count);
        Assert.Equal("mAP", df["Class"][2]);
        Assert.Equal(0.0, (double)df["AP@0.7"][0]!);
        Assert.Equal(0.5, (double)df["Average"][0]!);
        Assert.Equal(1.0, (double)df["Average"][1]!);
        Assert.Equal(0.5, (double)df["AP@0.7"][2]!);
        Assert.Equal(0.75, (double)df["Average"][2]!);
        Assert.Equal(2, (int)df["GroundTruth"][2]!);
    }
}

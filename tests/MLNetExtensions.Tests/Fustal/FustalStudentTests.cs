using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Estimators.Fustal;
using MLNetExtensions.Evaluators.TemporalLocalization;
using MLNetExtensions.Transforms.Datasets;
using MLNetExtensions.Transforms.Fustal;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Fustal;

/// <summary>The student (note §5): label assignment, DIoU, decoding, and a small oracle run with the EMA phase.</summary>
public sealed class FustalStudentTests(ITestOutputHelper output)
{
    static FustalStudentTests() => torch.set_num_threads(1);

    private static readonly TriDetConfig Small = new(FeatureDim: 8, NumClasses: 2, EmbedDim: 16, MlpDim: 16, NumLevels: 3, StemBlocks: 1, NumBins: 4, HeadDim: 16, HeadLayers: 1);

    private static (float[] Points, float[] Strides) Pyramid(int t, int levels)
    {
        var p = new List<float>(); var s = new List<float>();
        for (int l = 0; l < levels; l++) for (int i = 0; i < t >> l; i++) { p.Add(i << l); s.Add(1 << l); }
        return (p.ToArray(), s.ToArray());
    }

    [Fact]
    public void LabelAssignmentUsesCentreSamplingRegressionRangesAndTheShortestSegment()
    {
        var (points, strides) = Pyramid(24, 3); // ranges [0,4], [4,8], [8,∞)
        var segs = new List<TemporalProposal> { new(1, 1, 2, 5), new(0, 1, 0, 20) };
        var (cls, off, assigned) = TriDetTargets.Assign(segs, points, strides, Small);
        int At(int level, int g) => Enumerable.Range(0, points.Length).Single(i => strides[i] == 1 << level && points[i] == g);
        // Short segment on level 0: centre 3.5 ± 1.5 → strictly inside (2, 5): g = 3 and 4; g = 2 is on the boundary.
        Assert.Equal(1, assigned[At(0, 3)]);
        Assert.Equal(1, assigned[At(0, 4)]);
        Assert.Equal(-1, assigned[At(0, 2)]);
        Assert.Equal(new[] { 1f, 2f }, off.Skip(2 * At(0, 3)).Take(2));
        Assert.Equal(new[] { 0f, 1f }, cls.Skip(2 * At(0, 3)).Take(2));
        // Long segment [0, 20]: only level 2 (reach ≥ 8) inside the centre region (10 ± 6): g = 8 and 12, offsets in strides of 4.
        Assert.Equal(0, assigned[At(2, 8)]);
        Assert.Equal(0, assigned[At(2, 12)]);
        Assert.Equal(-1, assigned[At(2, 4)]);
        Assert.Equal(new[] { 2f, 3f }, off.Skip(2 * At(2, 8)).Take(2));
        Assert.Equal(-1, assigned[At(0, 10)]); // reach 10 is out of level 0's range
        Assert.Equal(-1, assigned[At(1, 10)]);
    }

    [Fact]
    public void CentreDIoUMatchesItsClosedForm()
    {
        using var pred = tensor(new float[] { 1, 1, 2, 3 }, new long[] { 2, 2 });
        using var target = tensor(new float[] { 1, 3, 2, 3 }, new long[] { 2, 2 });
        using var loss = TriDetLoss.CentreDIoU(pred, target);
        var v = loss.data<float>().ToArray();
        Assert.Equal(0.5625, v[0], 5); // IoU 2/4, centre distance 1, enclosing length 4: 1 − 0.5 + 1/16
        Assert.Equal(0.0, v[1], 6);
    }

    [Fact]
    public void DecoderTurnsClassWiseDistancesIntoSegmentsAndSoftNmsKeepsTheBest()
    {
        // One level, 6 positions, 2 classes; position 2 class 1 fires with distances (1, 2); position 3 class 1 nearly the same segment.
        int p = 6, c = 2;
        var logits = Enumerable.Repeat(-20f, p * c).ToArray();
        var left = new float[p * c]; var right = new float[p * c];
        logits[2 * c + 1] = 3; left[2 * c + 1] = 1; right[2 * c + 1] = 2;
        logits[3 * c + 1] = 1; left[3 * c + 1] = 2; right[3 * c + 1] = 1;
        var valid = Enumerable.Repeat(1f, p).ToArray();
        var points = Enumerable.Range(0, p).Select(i => (float)i).ToArray();
        var strides = Enumerable.Repeat(1f, p).ToArray();
        var seg = TriDetDecoder.Decode(logits, left, right, valid, points, strides, 0, c, new TriDetInferenceOptions());
        Assert.Equal(new TemporalProposal(1, 1 / (1 + Math.Exp(-3)), 1, 4), seg[0]);
        Assert.True(seg[1].Score < 1 / (1 + Math.Exp(-1)), "soft-NMS decays the overlapping second segment");
        Assert.All(seg, s => Assert.Equal(1, s.ClassIndex));
    }

    [Fact]
    public void OracleStudentLocalisesTrainsThroughTheEmaPhaseAndRoundTrips()
    {
        var data = FustalTeacherPipelineTests.Data;
        var ml = new MLContext(seed: 1).RegisterMLNetExtensions();
        // Ground truth as the student's targets (the oracle of the issue).
        IDataView Oracle(IDataView v) => ml.Transforms.CopyColumns("PseudoStart", "GroundTruthStart")
            .Append(ml.Transforms.CopyColumns("PseudoEnd", "GroundTruthEnd")).Append(ml.Transforms.CopyColumns("PseudoLabel", "GroundTruthLabel")).Fit(v).Transform(v);
        var train = ml.Data.Cache(Oracle(SyntheticUntrimmedDataView.Load(ml, SyntheticUntrimmedFeatures.Generate(64, videoSeed: 1, data), data.NumClasses)));
        var test = ml.Data.Cache(SyntheticUntrimmedDataView.Load(ml, SyntheticUntrimmedFeatures.Generate(24, videoSeed: 2, data, prefix: "test_"), data.NumClasses));
        var options = new FustalStudent.Options
        {
            FeatureSize = data.FeatureDim, MaxSnippets = 200, MaxSegments = 32, BatchSize = 8, MaxEpochs = 12, EmaSwitchEpoch = 8, EmaDecay = 0.9,
            LearningRate = 1e-3, Seed = 3, LogEveryNSteps = 0, Grid = new StudentGridSpec(Fps: 25, Stride: 16, Window: 16),
            Network = new TriDetConfig(EmbedDim: 32, MlpDim: 32, NumLevels: 4, StemBlocks: 1, NumBins: 8, HeadDim: 32, HeadLayers: 1),
        };
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var estimator = ml.TemporalLocalization().Trainers.FustalStudent(options);
        using var student = estimator.Fit(train);
        var seconds = clock.Elapsed.TotalSeconds;
        var scored = student.Transform(test);
        var m = ml.TemporalLocalization().Evaluate(scored);
        output.WriteLine($"oracle student: {m}  (train {seconds:0.0} s, {estimator.EmaTargetBatches} EMA-target batches)");
        Assert.True(estimator.EmaTargetBatches > 0, "the EMA phase never ran");
        Assert.True(m.MeanAveragePrecisionAt(0.5) > 0.3, m.ToString());

        // Save/Load and the PredictionEngine path give the same segments as Transform.
        var zip = Path.Combine(Path.GetTempPath(), "fustal-student-" + Guid.NewGuid().ToString("N") + ".zip");
        try
        {
            ml.Model.Save(student, test.Schema, zip);
            var loaded = ml.Model.Load(zip, out _);
            var a = scored.GetColumn<VBuffer<float>>("SegmentStart").Select(v => v.DenseValues().ToArray()).ToList();
            var b = loaded.Transform(test).GetColumn<VBuffer<float>>("SegmentStart").Select(v => v.DenseValues().ToArray()).ToList();
            Assert.Equal(a, b);
            var engine = ml.Model.CreatePredictionEngine<VideoRow, Detections>(loaded);
            var first = ml.Data.CreateEnumerable<VideoRow>(test, reuseRowObject: false).First();
            var d = engine.Predict(first);
            Assert.Equal(scored.GetColumn<VBuffer<float>>("SegmentScore").First().DenseValues().ToArray(), d.SegmentScore, new FloatTolerance(1e-5f));
            (loaded as IDisposable)?.Dispose();
        }
        finally { File.Delete(zip); }
    }

    private sealed class FloatTolerance(float tol) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tol;
        public int GetHashCode(float obj) => 0;
    }

    public sealed class VideoRow
    {
        [VectorType] public float[] Features { get; set; } = Array.Empty<float>();
    }

    public sealed class Detections
    {
        public float[] SegmentStart { get; set; } = Array.Empty<float>();
        public float[] SegmentEnd { get; set; } = Array.Empty<float>();
        public float[] SegmentScore { get; set; } = Array.Empty<float>();
        public uint[] SegmentLabel { get; set; } = Array.Empty<uint>();
        public float[] Score { get; set; } = Array.Empty<float>();
    }
}

using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Estimators.Fustal;
using MLNetExtensions.Estimators.SqueezeTime;
using MLNetExtensions.Evaluators.TemporalLocalization;
using MLNetExtensions.Tests.SqueezeTime;
using MLNetExtensions.Transforms.Datasets;
using MLNetExtensions.Transforms.Datasets.Video;
using MLNetExtensions.Transforms.Fustal;
using MLNetExtensions.Transforms.SqueezeTime;
using MLNetExtensions.Transforms.Video;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;

namespace MLNetExtensions.Tests.Fustal;

/// <summary>
/// The chain from files (issue 16 item 5): untrimmed mp4 videos of real Fashion-MNIST items → <c>LoadVideoFrames</c>
/// (every frame) → snippet featuriser (frozen SqueezeTime) → FuSTAL teacher → pseudo-label selection → student →
/// segments, as one ML.NET pipeline; shapes follow the videos' durations, segments lie inside the videos, the fit is
/// deterministic for a seed, and the fitted chain round-trips through Save/Load and serves one row.
/// </summary>
public sealed class FustalVideoPipelineTests : IDisposable
{
    private const int H = 32, W = 32, SnippetFrames = 8;
    private const double Fps = 8;
    private readonly ITestOutputHelper _output;
    private readonly string _dir = Directory.CreateTempSubdirectory("mlnetext-fustal-video-").FullName;

    static FustalVideoPipelineTests() => torch.set_num_threads(1);

    public FustalVideoPipelineTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static UntrimmedMotionOptions Videos(int count, int seed, FashionMnistSplit split = FashionMnistSplit.Train) =>
        new(count, Seed: seed, Height: H, Width: W, FrameRate: Fps, MinFrames: 96, MaxFrames: 160, MinInstanceFrames: 16, MaxInstanceFrames: 40, Split: split);

    /// <summary>A SqueezeTime tiny backbone trained briefly on moving Fashion-MNIST direction clips (the suite's motion task).</summary>
    internal static TorchImageClassificationTransformer Backbone(MLContext ml, int clips = 64, int epochs = 1) =>
        ml.MulticlassClassification.Trainers.SqueezeTime(new SqueezeTimeVideoClassifier.Options
        {
            Config = SqueezeTimeConfig.Tiny(frames: SnippetFrames) with { DropoutRatio = 0 }, MaxEpochs = epochs, BatchSize = 16, LearningRate = 3e-3,
            Seed = 7, BatchNormRecalibrationBatches = 2, LogEveryNSteps = 0,
        }).Fit(new MovingFashionMnist(new MovingFashionMnistOptions(clips, Seed: 1, Frames: SnippetFrames, Height: H, Width: W)));

    private static IEstimator<ITransformer> Pipeline(MLContext ml, TorchImageClassificationTransformer backbone, string folder)
    {
        var tl = ml.TemporalLocalization();
        int f = SqueezeTimeConfig.Tiny(frames: SnippetFrames).FeatureChannels;
        return ml.Transforms.LoadVideoFrames("Frames", "Path", frames: 0, H, W, videoFolder: folder)
            .Append(tl.Transforms.FeaturizeSnippets(backbone))
            .Append(ml.Transforms.DropColumns("Frames"))
            .AppendCacheCheckpoint(ml)
            .Append(tl.Trainers.FustalTeacher(new FustalTeacher.Options
            {
                FeatureSize = f, SampledLength = 16, EmbedDim = 32, RHard = 8, MaxSnippets = 64, BatchSize = 4, MaxEpochs = 3,
                LearningRate = 1e-3, Seed = 3, LogEveryNSteps = 0,
                Proposals = new ProposalOptions { FramesPerSnippet = SnippetFrames, FeatureFps = Fps },
            }))
            .Append(tl.Transforms.SelectPseudoLabels(gamma: 0.2, eta: 0.4))
            .Append(tl.Trainers.FustalStudent(new FustalStudent.Options
            {
                FeatureSize = f, MaxSnippets = 64, MaxSegments = 64, BatchSize = 4, MaxEpochs = 3, EmaSwitchEpoch = 2, EmaDecay = 0.9,
                LearningRate = 1e-3, Seed = 3, LogEveryNSteps = 0, Grid = new StudentGridSpec(Fps: Fps, Stride: SnippetFrames, Window: SnippetFrames),
                Network = new TriDetConfig(EmbedDim: 16, MlpDim: 16, NumLevels: 3, StemBlocks: 1, NumBins: 4, HeadDim: 16, HeadLayers: 1),
            }));
    }

    private static IEnumerable<ITransformer> Parts(ITransformer chain) => (IEnumerable<ITransformer>)chain;

    private static List<float[]> Column(IDataView v, string name) =>
        v.GetColumn<VBuffer<float>>(name).Select(b => b.DenseValues().ToArray()).ToList();

    public sealed class PathRow
    {
        public string Path { get; set; } = "";
    }

    public sealed class Detections
    {
        public float[] SegmentStart { get; set; } = Array.Empty<float>();
        public float[] SegmentEnd { get; set; } = Array.Empty<float>();
        public float[] SegmentScore { get; set; } = Array.Empty<float>();
    }

    [FfmpegFact]
    public void Mp4FilesToSegmentsInOnePipelineFollowDurationsAreDeterministicAndRoundTrip()
    {
        var clock = Stopwatch.StartNew();
        var ml = new MLContext(seed: 1).RegisterMLNetExtensions();
        var trainGen = new UntrimmedMotionVideos(Videos(8, seed: 1));
        var testGen = new UntrimmedMotionVideos(Videos(3, seed: 2, FashionMnistSplit.Test), idPrefix: "test_");
        var trainVideos = trainGen.WriteMp4(_dir);
        var testVideos = testGen.WriteMp4(_dir);
        // Exact ground truth kept: written as ActivityNet JSON and read back unchanged.
        var gtPath = Path.Combine(_dir, "gt.json");
        var gt = testVideos.SelectMany(v => v.Instances.Select(i => new GroundTruthSegment(v.Id, i.StartSeconds(Fps), i.EndSeconds(Fps), UntrimmedMotionVideos.ClassNames[i.ClassIndex]))).ToList();
        ActivityNetJson.WriteGroundTruth(gtPath, gt, durations: testVideos.ToDictionary(v => v.Id, v => v.Duration(Fps)));
        Assert.Equal(gt, ActivityNetJson.ReadGroundTruth(gtPath, "test"));
        Assert.All(trainVideos.Concat(testVideos), v => Assert.All(v.Instances, i => Assert.True(i.StartFrame > 0 && i.EndFrame < v.FrameCount && i.EndFrame - i.StartFrame >= 16)));
        var train = UntrimmedMotionVideos.Load(ml, trainVideos, Fps);
        var test = UntrimmedMotionVideos.Load(ml, testVideos, Fps);
        _output.WriteLine($"wrote {trainVideos.Count + testVideos.Count} mp4 videos ({trainVideos.Sum(v => v.FrameCount)} + {testVideos.Sum(v => v.FrameCount)} frames): {clock.Elapsed.TotalSeconds:F1} s");

        using var backbone = Backbone(ml);
        _output.WriteLine($"backbone trained: {clock.Elapsed.TotalSeconds:F1} s");

        // Every frame is decoded: the frame vector has N·3·H·W values and matches the rendered frames up to codec loss.
        var (_, rendered) = testGen.Render(0);
        var decoded = Column(ml.Transforms.LoadVideoFrames("Frames", "Path", frames: 0, H, W, videoFolder: _dir).Fit(test).Transform(test), "Frames")[0];
        Assert.Equal(testVideos[0].FrameCount * 3 * H * W, decoded.Length);
        Assert.True(decoded.Zip(rendered, (a, b) => Math.Abs(a - b)).Average() < 0.02, "decoded frames differ from the rendered ones beyond H.264 loss");

        var model = Pipeline(ml, backbone, _dir).Fit(train);
        _output.WriteLine($"pipeline fitted: {clock.Elapsed.TotalSeconds:F1} s");
        var scored = ml.Data.Cache(model.Transform(test));

        // Features: ⌊N/T⌋ snippets (stride T) of F = 256 values per video; the first snippet alone gives the same vector.
        var featurizer = Parts(model).OfType<SnippetFeaturizerTransformer>().Single();
        Assert.Equal(256, featurizer.FeatureSize);
        var features = Column(scored, "Features");
        for (int i = 0; i < testVideos.Count; i++)
            Assert.Equal(testVideos[i].FrameCount / SnippetFrames * 256, features[i].Length);
        var first = featurizer.Featurize(decoded.AsSpan(0, SnippetFrames * 3 * H * W));
        Assert.Equal(features[0].Take(256), first, (a, b) => Math.Abs(a - b) < 1e-4f);
        Assert.True(features[0].Take(256).Zip(features[0].Skip(256 * 3).Take(256), (a, b) => Math.Abs(a - b)).Max() > 1e-3, "snippets of one video all have the same features");

        // The teacher's selected pseudo segments and the student's segments lie inside their videos (seconds); every
        // video gets student detections.
        var durations = testVideos.ToDictionary(v => v.Id, v => v.Duration(Fps));
        foreach (var prefix in new[] { "Pseudo", "Segment" })
            foreach (var (id, segs) in ProposalColumns.Read(scored, prefix))
            {
                if (prefix == "Segment") Assert.NotEmpty(segs);
                Assert.All(segs, s => Assert.True(s.Start >= 0 && s.Start <= s.End && s.End <= durations[id] + 1e-4, $"{prefix} {id}: [{s.Start}, {s.End}] outside [0, {durations[id]}]"));
            }
        var teacherScores = Column(scored, "Score");
        Assert.All(teacherScores, sc => Assert.Equal(4, sc.Length));
        var metrics = ml.TemporalLocalization().Evaluate(scored);
        _output.WriteLine($"student on 3 test videos (tiny run, not an experiment): {metrics}");

        // Deterministic for a seed: a second fit from scratch gives the same detections.
        var again = Pipeline(new MLContext(seed: 1).RegisterMLNetExtensions(), backbone, _dir).Fit(train);
        var b = ml.Data.Cache(again.Transform(test));
        Assert.Equal(Column(scored, "SegmentStart"), Column(b, "SegmentStart"));
        Assert.Equal(Column(scored, "SegmentScore"), Column(b, "SegmentScore"));
        Assert.Equal(features, Column(b, "Features"));
        _output.WriteLine($"refitted: {clock.Elapsed.TotalSeconds:F1} s");

        // Save/Load (a fresh MLContext) and a PredictionEngine over a path row give the same detections.
        var zip = Path.Combine(_dir, "chain.zip");
        ml.Model.Save(model, train.Schema, zip);
        var ml2 = new MLContext().RegisterMLNetExtensions();
        var loaded = ml2.Model.Load(zip, out var inputSchema);
        Assert.Equal(TextDataViewType.Instance, inputSchema["Path"].Type);
        var c = ml.Data.Cache(loaded.Transform(test));
        Assert.Equal(features, Column(c, "Features"));
        Assert.Equal(Column(scored, "SegmentStart"), Column(c, "SegmentStart"));
        using (var engine = ml2.Model.CreatePredictionEngine<PathRow, Detections>(loaded))
        {
            var one = engine.Predict(new PathRow { Path = testVideos[1].Id + ".mp4" });
            Assert.Equal(Column(scored, "SegmentScore")[1], one.SegmentScore, (x, y) => Math.Abs(x - y) < 1e-5f);
        }
        (loaded as IDisposable)?.Dispose();
        foreach (var t in Parts(model).Concat(Parts(again)).OfType<IDisposable>()) t.Dispose();
        _output.WriteLine($"total {clock.Elapsed.TotalSeconds:F1} s");
    }

    [FfmpegFact]
    public void FeaturizerRejectsWrongFrameSizesShortVideosAndOtherColumnsNamingThem()
    {
        var ml = new MLContext(seed: 1).RegisterMLNetExtensions();
        using var backbone = Backbone(ml, clips: 16);
        var tl = ml.TemporalLocalization();
        using var featurizer = tl.Transforms.FeaturizeSnippets(backbone).Fit(ml.Data.LoadFromEnumerable(new[] { new FramesRow { Frames = new float[8 * 3 * H * W] } }));
        Assert.Equal(8, featurizer.SnippetFrames);
        Assert.Equal(8, featurizer.Stride);
        Assert.Equal(1, featurizer.Featurize(new float[15 * 3 * H * W]).Length / 256); // incomplete tail dropped
        var e = Assert.Throws<InvalidDataException>(() => featurizer.Featurize(new float[5 * 3 * H * W], 4));
        Assert.Contains("'Frames', row 4", e.Message);
        Assert.Contains("fewer than one snippet of 8", e.Message);
        e = Assert.Throws<InvalidDataException>(() => featurizer.Featurize(new float[8 * 3 * 16 * 16 + 1]));
        Assert.Contains("3×32×32", e.Message);
        // A frames column of another type or a fixed size of other frames fails at Fit, naming the column.
        var wrong = Assert.ThrowsAny<ArgumentException>(() => tl.Transforms.FeaturizeSnippets(backbone, inputColumnName: "Path")
            .Fit(ml.Data.LoadFromEnumerable(new[] { new PathRow { Path = "x.mp4" } })));
        Assert.Contains("'Path'", wrong.Message);
        var clip16 = ml.Data.LoadFromEnumerable(new[] { new FixedRow() }, SchemaDefinitionFor16());
        wrong = Assert.ThrowsAny<ArgumentException>(() => tl.Transforms.FeaturizeSnippets(backbone).Fit(clip16));
        Assert.Contains("'Frames'", wrong.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => tl.Transforms.FeaturizeSnippets(backbone, snippetStride: 0));
        // Overlapping snippets: stride 4 gives ⌊(N − 8)/4⌋ + 1 snippets.
        using var overlapping = tl.Transforms.FeaturizeSnippets(backbone, snippetStride: 4).Fit(ml.Data.LoadFromEnumerable(new[] { new FramesRow() }));
        Assert.Equal(3, overlapping.Featurize(new float[16 * 3 * H * W]).Length / 256);
    }

    public sealed class FramesRow
    {
        [VectorType] public float[] Frames { get; set; } = Array.Empty<float>();
    }

    public sealed class FixedRow
    {
        public float[] Frames { get; set; } = new float[8 * 3 * 16 * 16];
    }

    private static SchemaDefinition SchemaDefinitionFor16()
    {
        var def = SchemaDefinition.Create(typeof(FixedRow));
        def["Frames"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 8, 3, 16, 16);
        return def;
    }
}

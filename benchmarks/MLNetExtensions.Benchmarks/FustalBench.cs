using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Estimators.Fustal;
using MLNetExtensions.Estimators.SqueezeTime;
using MLNetExtensions.Transforms.Video;
using MLNetExtensions.Evaluators.TemporalLocalization;
using MLNetExtensions.Transforms.Datasets;
using MLNetExtensions.Transforms.Fustal;
using TorchSharp;

namespace MLNetExtensions.Benchmarks;

/// <summary>
/// Snippets per second of the FuSTAL teacher and student, training (one epoch over the videos, after a one-epoch
/// warm-up fit) and inference (Transform consumed to the end, median of repeats), on the note's synthetic features
/// (K 5, D 64, 200–400 snippets; the example's network sizes), one thread; and the snippet featuriser from files
/// (untrimmed moving-Fashion-MNIST mp4 videos → LoadVideoFrames every frame → SqueezeTime tiny per 8-frame snippet).
/// Usage: <c>-- fustal [--videos 64] [--dim 64] [--repeats 3] [--threads 1] [--mp4 8]</c> (<c>--mp4 0</c> skips the featuriser).
/// </summary>
internal static class FustalBench
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static int Run(string[] argv)
    {
        var a = new BenchArgs(argv);
        int n = a.Int("videos", 64), dim = a.Int("dim", 64), reps = a.Int("repeats", 3), threads = a.Int("threads", 1), mp4 = a.Int("mp4", 8);
        torch.set_num_threads(threads);
        var data = new SyntheticUntrimmedOptions { FeatureDim = dim };
        var ml = new MLContext(1).RegisterMLNetExtensions();
        var videos = SyntheticUntrimmedFeatures.Generate(n, videoSeed: 1, data);
        long snippets = videos.Sum(v => v.Length);
        var view = ml.Data.Cache(SyntheticUntrimmedDataView.Load(ml, videos, data.NumClasses));
        var load = File.ReadAllText("/proc/loadavg").Split(' ')[0];
        Console.WriteLine($"# FuSTAL snippets/s ({n} videos, {snippets} snippets, D {dim}, {threads} thread(s), {Environment.ProcessorCount} cores, load average {load})\n");
        Console.WriteLine("| stage | train snippets/s | inference snippets/s |\n|---|---|---|");

        FustalTeacher.Options Teacher(int epochs) => new()
        {
            FeatureSize = dim, SampledLength = 256, EmbedDim = 128, MaxSnippets = 400, BatchSize = 16, MaxEpochs = epochs,
            LearningRate = 1e-3, Seed = 1, LogEveryNSteps = 0,
        };
        double TrainRate(Func<int, ITransformer> fit)
        {
            (fit(1) as IDisposable)?.Dispose(); // warm-up
            var sw = Stopwatch.StartNew();
            var m = fit(2);
            double t2 = sw.Elapsed.TotalSeconds;
            sw.Restart();
            (fit(1) as IDisposable)?.Dispose();
            double t1 = sw.Elapsed.TotalSeconds;
            (m as IDisposable)?.Dispose();
            return snippets / Math.Max(1e-9, t2 - t1); // one epoch = the difference (setup cancels)
        }
        double InferRate(ITransformer model) =>
            snippets / (BenchArgs.MedianMs(reps, () => { foreach (var _ in model.Transform(view).GetColumn<VBuffer<float>>("SegmentScore")) { } }) / 1000);

        // Teacher: training samples each video to T = 256 (the rate counts the videos' own snippets).
        double tTrain = TrainRate(e => ml.TemporalLocalization().Trainers.FustalTeacher(Teacher(e)).Fit(view));
        using var teacher = ml.TemporalLocalization().Trainers.FustalTeacher(Teacher(2)).Fit(view);
        double tInfer = InferRate(teacher);
        Console.WriteLine(string.Format(Inv, "| teacher (CoLA, embed 128, T 256) | {0:F0} | {1:F0} |", tTrain, tInfer));

        var targets = ml.Data.Cache(ml.Transforms.CopyColumns("PseudoStart", "GroundTruthStart").Append(ml.Transforms.CopyColumns("PseudoEnd", "GroundTruthEnd"))
            .Append(ml.Transforms.CopyColumns("PseudoLabel", "GroundTruthLabel")).Fit(view).Transform(view));
        FustalStudent.Options Student(int epochs) => new()
        {
            FeatureSize = dim, MaxSnippets = 400, MaxSegments = 512, BatchSize = 8, MaxEpochs = epochs, EmaSwitchEpoch = epochs + 1,
            EmaDecay = 0.99, LearningRate = 1e-3, Seed = 1, LogEveryNSteps = 0, Grid = new StudentGridSpec(Fps: 25, Stride: 16, Window: 16),
            Network = new TriDetConfig(EmbedDim: 64, MlpDim: 96, NumLevels: 4, StemBlocks: 1, NumBins: 8, HeadDim: 64, HeadLayers: 1),
        };
        double sTrain = TrainRate(e => ml.TemporalLocalization().Trainers.FustalStudent(Student(e)).Fit(targets));
        using var student = ml.TemporalLocalization().Trainers.FustalStudent(Student(1)).Fit(targets);
        double sInfer = InferRate(student);
        Console.WriteLine(string.Format(Inv, "| student (TriDet, embed 64, 4 levels, EMA update per step) | {0:F0} | {1:F0} |", sTrain, sInfer));
        if (mp4 > 0) Featurizer(ml, mp4, reps);
        return 0;
    }

    // mp4 → LoadVideoFrames (every frame, 32×32) → SqueezeTime tiny snippet features (8 frames per snippet), consumed to the end.
    private static void Featurizer(MLContext ml, int videos, int reps)
    {
        var dir = Directory.CreateTempSubdirectory("mlnetext-fustal-bench-").FullName;
        try
        {
            var gen = new MLNetExtensions.Transforms.Datasets.Video.UntrimmedMotionVideos(new(videos, Seed: 1));
            var list = gen.WriteMp4(dir);
            var files = MLNetExtensions.Transforms.Datasets.Video.UntrimmedMotionVideos.Load(ml, list, gen.Options.FrameRate);
            using var backbone = ml.MulticlassClassification.Trainers.SqueezeTime(new MLNetExtensions.Estimators.SqueezeTime.SqueezeTimeVideoClassifier.Options
            {
                Config = MLNetExtensions.Transforms.SqueezeTime.SqueezeTimeConfig.Tiny(frames: 8), MaxEpochs = 1, BatchSize = 16, Seed = 1, LogEveryNSteps = 0,
            }).Fit(new MLNetExtensions.Transforms.Datasets.Video.MovingFashionMnist(new(32, Seed: 1)));
            var chain = ml.Transforms.LoadVideoFrames("Frames", "Path", frames: 0, 32, 32, videoFolder: dir)
                .Append(ml.TemporalLocalization().Transforms.FeaturizeSnippets(backbone)).Fit(files);
            long snippets = list.Sum(v => v.FrameCount / 8);
            double ms = BenchArgs.MedianMs(reps, () => { foreach (var _ in chain.Transform(files).GetColumn<VBuffer<float>>("Features")) { } });
            Console.WriteLine(string.Format(Inv, "| featuriser (mp4 → every frame 32×32 → SqueezeTime tiny, 8-frame snippets; {0} videos, {1} snippets) | – | {2:F0} |",
                videos, snippets, snippets / (ms / 1000)));
            foreach (var t in chain.OfType<IDisposable>()) t.Dispose();
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}

using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Estimators.Fustal;
using MLNetExtensions.Estimators.SqueezeTime;
using MLNetExtensions.Evaluators.TemporalLocalization;
using MLNetExtensions.Transforms.Datasets;
using MLNetExtensions.Transforms.Datasets.Video;
using MLNetExtensions.Transforms.Fustal;
using MLNetExtensions.Transforms.SqueezeTime;
using MLNetExtensions.Transforms.Video;

/// <summary>
/// What the experiment needs of a data set: per-video rows (VideoId, Features T×D, Label multi-hot, GroundTruth*) for the
/// three splits, the hidden ground truth, sizes, and the time grid of the features.
/// </summary>
internal sealed record DataSource(int FeatureDim, string[] ClassNames, IDataView Train, IDataView Valid, IDataView Test, IDataView? TrainShuffled,
    Dictionary<string, IReadOnlyList<ActionInstance>> TrainTruth, Dictionary<string, IReadOnlyList<ActionInstance>> ValidTruth,
    Dictionary<string, IReadOnlyList<ActionInstance>> TestTruth, List<HashSet<int>> TestLabels, List<(string Id, double Duration)> TestDurations,
    int TrainCount, long TrainSnippets, long TestSnippets, int SampledLength, int RHard, int MaxSnippets, Func<ProposalOptions> Proposals, StudentGridSpec Grid)
{
    public int NumClasses => ClassNames.Length;
}

/// <summary>The note's synthetic features (§9): K 5, D 64, T 200–400, 300 / 100 / 100 videos, per seed.</summary>
internal static class SyntheticSource
{
    public static DataSource Build(MLContext ml, int seed)
    {
        var data = new SyntheticUntrimmedOptions();
        List<SyntheticVideo> Split(int n, int s, string p) => SyntheticUntrimmedFeatures.Generate(n, videoSeed: 1000 * seed + s, data, prototypeSeed: seed, prefix: p);
        var (trainV, validV, testV) = (Split(300, 1, "train_"), Split(100, 2, "val_"), Split(100, 3, "test_"));
        IDataView View(List<SyntheticVideo> v) => ml.Data.Cache(SyntheticUntrimmedDataView.Load(ml, v, data.NumClasses));
        Dictionary<string, IReadOnlyList<ActionInstance>> Truth(List<SyntheticVideo> v) => v.ToDictionary(x => x.Id,
            x => (IReadOnlyList<ActionInstance>)x.InstancesInSeconds(SyntheticUntrimmedDataView.SecondsPerSnippet).Select(i => new ActionInstance(i.ClassIndex, i.Start, i.End)).ToList());
        return new DataSource(data.FeatureDim, SyntheticUntrimmedDataView.ClassNames(data.NumClasses), View(trainV), View(validV), View(testV),
            ml.Data.Cache(SyntheticUntrimmedDataView.Load(ml, trainV, data.NumClasses, shuffleLabels: seed)),
            Truth(trainV), Truth(validV), Truth(testV),
            testV.Select(v => Enumerable.Range(0, data.NumClasses).Where(k => v.Labels[k] > 0).ToHashSet()).ToList(),
            testV.Select(v => (v.Id, v.Length * SyntheticUntrimmedDataView.SecondsPerSnippet)).ToList(),
            trainV.Count, trainV.Sum(v => (long)v.Length), testV.Sum(v => (long)v.Length), SampledLength: 256, RHard: 20, MaxSnippets: 400,
            () => new ProposalOptions(), new StudentGridSpec(Fps: 25, Stride: 16, Window: 16));
    }
}

/// <summary>
/// Untrimmed mp4 videos of real Fashion-MNIST items (<see cref="UntrimmedMotionVideos"/>, 32×32 at 8 fps, 24–48 s, actions
/// 3–10 s) featurised from the files: LoadVideoFrames (every frame) → FeaturizeSnippets (SqueezeTime tiny, 8-frame
/// snippets = 1 s, F = 256). The backbone is trained once on moving Fashion-MNIST clips and kept in
/// <c>{out}/backbone.zip</c>; videos (fixed across seeds: the seeds vary the FuSTAL training) and features are kept under
/// <c>{out}/videos</c>. The ground truth of each split is also written as ActivityNet JSON there.
/// </summary>
internal static class MotionVideoSource
{
    private const double Fps = 8;
    private const int Snippet = 8;

    public static DataSource Build(MLContext ml, string outDir, double scale, Action<string> log)
    {
        var videoDir = Path.Combine(outDir, "videos");
        Directory.CreateDirectory(videoDir);
        UntrimmedMotionOptions Options(int count, int seed, FashionMnistSplit split) => new(count, Seed: seed, FrameRate: Fps, MinFrames: 192, MaxFrames: 384,
            MinInstanceFrames: 24, MaxInstanceFrames: 80, MinGapFrames: 16, Split: split);
        var splits = new (string Name, UntrimmedMotionOptions Options)[]
        {
            ("train", Options(200, 11, FashionMnistSplit.Train)), ("val", Options(60, 12, FashionMnistSplit.Train)), ("test", Options(60, 13, FashionMnistSplit.Test)),
        };
        var videos = new Dictionary<string, IReadOnlyList<UntrimmedMotionVideo>>();
        foreach (var (name, o) in splits)
        {
            videos[name] = new UntrimmedMotionVideos(o, idPrefix: name + "_").WriteMp4(videoDir);
            ActivityNetJson.WriteGroundTruth(Path.Combine(videoDir, $"gt_{name}.json"),
                videos[name].SelectMany(v => v.Instances.Select(i => new GroundTruthSegment(v.Id, i.StartSeconds(Fps), i.EndSeconds(Fps), UntrimmedMotionVideos.ClassNames[i.ClassIndex]))),
                subset: name, durations: videos[name].ToDictionary(v => v.Id, v => v.Duration(Fps)));
        }
        log($"videos: {string.Join(", ", videos.Select(kv => $"{kv.Key} {kv.Value.Count} ({kv.Value.Sum(v => v.FrameCount)} frames, {kv.Value.Sum(v => v.Instances.Count)} instances)"))} under {videoDir}");

        var backbonePath = Path.Combine(outDir, "backbone.zip");
        TorchImageClassificationTransformer backbone;
        if (File.Exists(backbonePath))
        {
            var loaded = ml.Model.Load(backbonePath, out _);
            backbone = loaded as TorchImageClassificationTransformer ?? ((IEnumerable<ITransformer>)loaded).OfType<TorchImageClassificationTransformer>().Single();
        }
        else
        {
            var clips = new MovingFashionMnist(new MovingFashionMnistOptions(2000, Seed: 1));
            var testClips = new MovingFashionMnist(new MovingFashionMnistOptions(400, Seed: 2, Split: FashionMnistSplit.Test));
            int epochs = Math.Max(1, (int)Math.Round(4 * Math.Min(1, scale)));
            backbone = ml.MulticlassClassification.Trainers.SqueezeTime(new SqueezeTimeVideoClassifier.Options
            {
                Config = SqueezeTimeConfig.Tiny(frames: Snippet) with { DropoutRatio = 0 }, MaxEpochs = epochs, BatchSize = 32, LearningRate = 3e-3,
                LabelSmoothing = 0, WeightDecay = 0.01, Seed = 7, BatchNormRecalibrationBatches = 8, LogEveryNSteps = 0,
            }).Fit(clips);
            var acc = ml.MulticlassClassification.Evaluate(backbone.Transform(testClips)).MicroAccuracy;
            log($"backbone: SqueezeTime tiny on moving Fashion-MNIST clips, {epochs} epochs, test accuracy {acc:P1} (chance 25 %)");
            File.WriteAllText(Path.Combine(outDir, "backbone.txt"), $"SqueezeTime tiny, 2000 moving Fashion-MNIST clips, {epochs} epochs: test accuracy {acc:F4} on 400 clips\n");
            ml.Model.Save(backbone, clips.Schema, backbonePath);
        }

        IDataView Features(string name)
        {
            var cache = Path.Combine(videoDir, $"features_{name}.idv");
            var files = UntrimmedMotionVideos.Load(ml, videos[name], Fps);
            if (!File.Exists(cache))
            {
                var t0 = DateTime.UtcNow;
                var chain = ml.Transforms.LoadVideoFrames("Frames", "Path", frames: 0, 32, 32, videoFolder: videoDir)
                    .Append(ml.TemporalLocalization().Transforms.FeaturizeSnippets(backbone)).Append(ml.Transforms.DropColumns("Frames")).Fit(files);
                var featurized = chain.Transform(files);
                using (var fs = File.Create(cache + ".tmp")) ml.Data.SaveAsBinary(featurized, fs, keepHidden: false);
                File.Move(cache + ".tmp", cache, overwrite: true);
                foreach (var t in chain.OfType<IDisposable>()) t.Dispose();
                log($"features {name}: {videos[name].Sum(v => v.FrameCount / Snippet)} snippets in {(DateTime.UtcNow - t0).TotalSeconds:F0} s");
            }
            return ml.Data.Cache(ml.Data.LoadFromBinary(cache));
        }
        var (train, valid, test) = (Features("train"), Features("val"), Features("test"));
        backbone.Dispose();

        Dictionary<string, IReadOnlyList<ActionInstance>> Truth(string name) => videos[name].ToDictionary(v => v.Id,
            v => (IReadOnlyList<ActionInstance>)v.Instances.Select(i => new ActionInstance(i.ClassIndex, i.StartSeconds(Fps), i.EndSeconds(Fps))).ToList());
        return new DataSource(SqueezeTimeConfig.Tiny(frames: Snippet).FeatureChannels, UntrimmedMotionVideos.ClassNames.ToArray(), train, valid, test, null,
            Truth("train"), Truth("val"), Truth("test"), videos["test"].Select(v => v.Classes.ToHashSet()).ToList(),
            videos["test"].Select(v => (v.Id, v.Duration(Fps))).ToList(), videos["train"].Count,
            videos["train"].Sum(v => (long)(v.FrameCount / Snippet)), videos["test"].Sum(v => (long)(v.FrameCount / Snippet)),
            SampledLength: 32, RHard: 8, MaxSnippets: 64, () => new ProposalOptions { FramesPerSnippet = Snippet, FeatureFps = Fps },
            new StudentGridSpec(Fps: Fps, Stride: Snippet, Window: Snippet));
    }
}

using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Transforms.Datasets.Video;
using MLNetExtensions.Estimators.SqueezeTime;
using MLNetExtensions.Transforms.SqueezeTime;
using MLNetExtensions.Transforms.Video;
using Xunit;
using Xunit.Abstractions;

namespace MLNetExtensions.Tests.SqueezeTime;

/// <summary><c>mlContext.Transforms.LoadVideoFrames</c> on mp4 files written from generated moving Fashion-MNIST clips.</summary>
public sealed class VideoFramesTransformTests : IDisposable
{
    private const int T = 8, H = 32, W = 32;
    private readonly ITestOutputHelper _output;
    private readonly string _dir = Directory.CreateTempSubdirectory("mlnetext-videoframes-").FullName;

    public VideoFramesTransformTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A row of the path IDataView.</summary>
    public sealed class PathRow
    {
        public string Path { get; set; } = "";
        [KeyType(4)] public uint Label { get; set; }
    }

    /// <summary>A row with a float where the path should be.</summary>
    public sealed class NumberRow
    {
        public float Path { get; set; }
    }

    /// <summary>PredictionEngine output.</summary>
    public sealed class Prediction
    {
        public float[] Score { get; set; } = Array.Empty<float>();
    }

    // Writes clips first..first+count-1 of the generator as clip{i}.mp4 and returns the rows (relative paths) and the clips.
    private (PathRow[] Rows, float[][] Clips) WriteClips(MovingFashionMnist gen, int count)
    {
        var writer = new VideoClipWriter(frameRate: 8);
        var rows = new PathRow[count];
        var clips = new float[count][];
        for (int i = 0; i < count; i++)
        {
            var (clip, label) = gen.GetClip(i);
            var name = $"clip{gen.Options.Seed}_{i}.mp4";
            writer.Write(Path.Combine(_dir, name), clip, T, H, W);
            rows[i] = new PathRow { Path = name, Label = (uint)label }; // key fields of a class are 0-based
            clips[i] = clip;
        }
        return (rows, clips);
    }

    private static double MeanAbs(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Average();

    [FfmpegFact]
    public void DecodesTheGeneratorsClipsLazilyWithTheDeclaredShape()
    {
        var ml = new MLContext(seed: 1);
        var gen = new MovingFashionMnist(new MovingFashionMnistOptions(Count: 4, Seed: 3));
        var (rows, clips) = WriteClips(gen, 4);
        // A missing file in the data does not fail Fit or Transform: decoding happens only when a clip is read.
        var data = ml.Data.LoadFromEnumerable(rows.Append(new PathRow { Path = "absent.mp4", Label = 1 }));
        var transformer = ml.Transforms.LoadVideoFrames("Video", "Path", T, H, W, videoFolder: _dir).Fit(data);
        var output = transformer.Transform(data);
        var type = Assert.IsType<VectorDataViewType>(output.Schema["Video"].Type);
        Assert.Equal(new[] { T, 3, H, W }, type.Dimensions.ToArray());
        Assert.Equal(5, output.GetColumn<uint>("Label").Count()); // other columns never touch the missing file

        var decoded = output.GetColumn<VBuffer<float>>("Video").Take(4).Select(v => v.DenseValues().ToArray()).ToArray();
        // Read-ahead decoding (default 4 at once) gives exactly what one-at-a-time decoding on read gives.
        var serial = ml.Transforms.LoadVideoFrames("Video", "Path", T, H, W, videoFolder: _dir, parallelDecodes: 1).Fit(data).Transform(data)
            .GetColumn<VBuffer<float>>("Video").Take(4).Select(v => v.DenseValues().ToArray()).ToArray();
        Assert.Equal(serial, decoded);
        for (int i = 0; i < 4; i++)
        {
            var own = MeanAbs(decoded[i], clips[i]);
            var nearestOther = Enumerable.Range(0, 4).Where(j => j != i).Min(j => MeanAbs(decoded[i], clips[j]));
            _output.WriteLine($"clip {i}: mean |decoded − generated| {own:F4}, nearest other clip {nearestOther:F4}");
            Assert.True(own < 0.02, $"clip {i} decodes with mean abs error {own:F4} (H.264 yuv420p loss expected < 0.02)");
            Assert.True(own < nearestOther / 2, $"clip {i} is not clearly closest to its own source ({own:F4} vs {nearestOther:F4})");
        }
    }

    [FfmpegFact]
    public void PathsToSqueezeTimePipelineTrainsRoundTripsAndServesOneRow()
    {
        var ml = new MLContext(seed: 1);
        var gen = new MovingFashionMnist(new MovingFashionMnistOptions(Count: 8, Seed: 5));
        var (rows, _) = WriteClips(gen, 8);
        var data = ml.Data.LoadFromEnumerable(rows);
        var pipeline = ml.Transforms.LoadVideoFrames("Video", "Path", T, H, W, videoFolder: _dir)
            .AppendCacheCheckpoint(ml)
            .Append(ml.MulticlassClassification.Trainers.SqueezeTime(new SqueezeTimeVideoClassifier.Options
            {
                Config = SqueezeTimeConfig.Tiny(frames: T), MaxEpochs = 1, BatchSize = 4, LearningRate = 3e-3, Seed = 7,
                BatchNormRecalibrationBatches = 1,
            }));
        var sw = Stopwatch.StartNew();
        var model = pipeline.Fit(data);
        _output.WriteLine($"fit on 8 mp4 clips (1 epoch, 2 steps): {sw.Elapsed.TotalSeconds:F1} s");
        var scores = model.Transform(data).GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray();
        Assert.Equal(8, scores.Length);
        Assert.All(scores, s => Assert.Equal(1.0, s.Sum(), 3));

        var zip = Path.Combine(_dir, "model.zip");
        ml.Model.Save(model, data.Schema, zip);
        var ml2 = new MLContext().RegisterMLNetExtensions();
        var loaded = ml2.Model.Load(zip, out var inputSchema);
        Assert.Equal(TextDataViewType.Instance, inputSchema["Path"].Type);
        var again = loaded.Transform(data).GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray();
        Assert.Equal(scores, again);

        using var engine = ml2.Model.CreatePredictionEngine<PathRow, Prediction>(loaded, new PredictionEngineOptions { OwnsTransformer = false });
        // One row at a time vs a batch of 8: the same numbers up to float summation order (seen: 1 ulp, 1.5e-8).
        var one = engine.Predict(rows[3]);
        Assert.Equal(scores[3], one.Score, (a, b) => Math.Abs(a - b) < 1e-6f);
        var other = engine.Predict(rows[4]);
        Assert.Equal(scores[4], other.Score, (a, b) => Math.Abs(a - b) < 1e-6f);
        (loaded as IDisposable)?.Dispose();
        model.LastTransformer.Dispose();
    }

    [FfmpegFact]
    public void TheTrainerSeesEachMp4ClipWithItsOwnLabelAfterCachingAndShuffling()
    {
        // What Trainers.SqueezeTime receives inside LoadVideoFrames(...).AppendCacheCheckpoint(ml).Append(trainer).Fit:
        // a cached view, read through the trainer's BatchStreamer in shuffled epochs. Every row must be its own clip
        // (nearest generated clip, codec loss only, frames in order) with that clip's label as a 1-based key.
        var ml = new MLContext(seed: 1);
        var gen = new MovingFashionMnist(new MovingFashionMnistOptions(Count: 12, Seed: 11));
        var (rows, clips) = WriteClips(gen, 12);
        var labels = Enumerable.Range(0, 12).Select(i => gen.GetClip(i).Label).ToArray();
        var data = ml.Data.LoadFromEnumerable(rows);
        Assert.Equal(labels.Select(l => (uint)l + 1), data.GetColumn<uint>("Label")); // 0-based key fields read as key = class + 1
        var decoded = ml.Data.Cache(ml.Transforms.LoadVideoFrames("Video", "Path", T, H, W, videoFolder: _dir).Fit(data).Transform(data));
        Assert.True(decoded.CanShuffle);
        var specs = new MLNetExtensions.Core.Data.Binding.InputSpec[]
        {
            new MLNetExtensions.Core.Data.Binding.FloatTensorInputSpec("Video", "input", new long[] { T, 3, H, W }),
            new MLNetExtensions.Core.Data.Binding.KeyLabelInputSpec("Label", "label") { Role = MLNetExtensions.Core.Data.Binding.InputRole.Label },
        }.Select(s => s.Resolve(decoded.Schema)).ToArray();
        var streamer = new MLNetExtensions.Core.Data.Binding.BatchStreamer(decoded, specs, 5);
        int plane = 3 * H * W;
        var shuffle = new Random(3);
        var orders = new List<int[]>();
        for (int epoch = 0; epoch < 2; epoch++)
        {
            var seen = new List<int>();
            foreach (var b in streamer.Stream(shuffle, 1024))
                for (int r = 0; r < b.Count; r++)
                {
                    var x = b["input"].FloatRow(r).ToArray();
                    var dist = clips.Select(c => MeanAbs(x, c)).ToArray();
                    int nearest = Array.IndexOf(dist, dist.Min());
                    Assert.True(dist[nearest] < 0.02, $"a row decodes with mean abs error {dist[nearest]:F4} to its nearest clip");
                    Assert.Equal(labels[nearest], b["label"].Longs![r]);
                    // Frame order: each frame is closer to the same generated frame than to its neighbours.
                    for (int t = 0; t < T; t++)
                    {
                        double own = MeanAbs(x.AsSpan(t * plane, plane).ToArray(), clips[nearest].AsSpan(t * plane, plane).ToArray());
                        foreach (var u in new[] { t - 1, t + 1 }.Where(u => u >= 0 && u < T))
                            Assert.True(own < MeanAbs(x.AsSpan(t * plane, plane).ToArray(), clips[nearest].AsSpan(u * plane, plane).ToArray()) / 2,
                                $"decoded frame {t} is not clearly its own generated frame");
                    }
                    seen.Add(nearest);
                }
            Assert.Equal(Enumerable.Range(0, 12), seen.Order()); // every clip exactly once per epoch
            orders.Add(seen.ToArray());
        }
        Assert.NotEqual(orders[0], orders[1]); // epochs are shuffled
        Assert.NotEqual(Enumerable.Range(0, 12), orders[0]);
    }

    [FfmpegFact]
    public void DecodingErrorsNameTheColumnRowAndFile()
    {
        var ml = new MLContext(seed: 1);
        var gen = new MovingFashionMnist(new MovingFashionMnistOptions(Count: 1, Seed: 9));
        var (rows, _) = WriteClips(gen, 1);
        File.WriteAllText(Path.Combine(_dir, "corrupt.mp4"), "this is not a video");
        var (clip, _) = gen.GetClip(0);
        new VideoClipWriter(frameRate: 8).Write(Path.Combine(_dir, "short.mp4"), clip.AsSpan(0, 4 * 3 * H * W), 4, H, W);

        Exception Read(string file)
        {
            var data = ml.Data.LoadFromEnumerable(new[] { rows[0], new PathRow { Path = file, Label = 1 } });
            var output = ml.Transforms.LoadVideoFrames("Video", "Path", T, H, W, videoFolder: _dir).Fit(data).Transform(data);
            return Assert.ThrowsAny<Exception>(() => output.GetColumn<VBuffer<float>>("Video").ToArray());
        }

        var missing = Assert.IsType<FileNotFoundException>(Read("absent.mp4"));
        Assert.Contains(Path.Combine(_dir, "absent.mp4"), missing.Message);
        Assert.Contains("'Path', row 1", missing.Message);
        Assert.Equal(Path.Combine(_dir, "absent.mp4"), missing.FileName);

        var corrupt = Assert.IsType<VideoDecodingException>(Read("corrupt.mp4"));
        Assert.Contains(Path.Combine(_dir, "corrupt.mp4"), corrupt.Message);
        Assert.Contains("'Path', row 1", corrupt.Message);

        var tooShort = Assert.IsType<VideoDecodingException>(Read("short.mp4"));
        Assert.Contains(Path.Combine(_dir, "short.mp4"), tooShort.Message);
        Assert.Contains("4 frame(s), fewer than the 8", tooShort.Message);
        Assert.Equal(Path.Combine(_dir, "short.mp4"), tooShort.FilePath);

        var empty = Assert.IsType<InvalidDataException>(Read(" "));
        Assert.Contains("'Path', row 1", empty.Message);
    }

    [Fact]
    public void RejectsANonTextInputColumnNamingIt()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[] { new NumberRow { Path = 1 } });
        var estimator = ml.Transforms.LoadVideoFrames("Video", "Path", T, H, W);
        var e = Assert.ThrowsAny<ArgumentException>(() => estimator.Fit(data));
        Assert.Contains("'Path'", e.Message);
        Assert.Contains("text", e.Message);
        e = Assert.ThrowsAny<ArgumentException>(() => estimator.Append(ml.Transforms.CopyColumns("V2", "Video")).Fit(data));
        Assert.Contains("'Path'", e.Message);
        e = Assert.ThrowsAny<ArgumentException>(() => ml.Transforms.LoadVideoFrames("Video", "Movie", T, H, W).Fit(data));
        Assert.Contains("'Movie'", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.LoadVideoFrames("Video", "Path", -1, H, W)); // 0 = every frame
    }
}

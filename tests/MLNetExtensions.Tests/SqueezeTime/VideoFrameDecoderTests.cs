using MLNetExtensions.Transforms.Video;
using Xunit;
using Xunit.Abstractions;

namespace MLNetExtensions.Tests.SqueezeTime;

/// <summary>A fact that needs the ffmpeg executables: skipped only when they are missing outside CI; with CI=true it runs (and fails).</summary>
public sealed class FfmpegFactAttribute : FactAttribute
{
    private static readonly Lazy<bool> Available = new(() => FfmpegProcess.IsAvailable());

    public FfmpegFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("CI") != "true" && !Available.Value)
            Skip = "ffmpeg/ffprobe not installed (Debian: apt-get install ffmpeg); video tests need them";
    }
}

/// <summary>Round trips through the ffmpeg-based writer and decoder, and their error reporting.</summary>
public sealed class VideoFrameDecoderTests : IDisposable
{
    private readonly ITestOutputHelper output;
    private readonly string dir = Directory.CreateTempSubdirectory("mlnetext-video-").FullName;

    public VideoFrameDecoderTests(ITestOutputHelper output) => this.output = output;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    // A smooth colour gradient with a bright square that moves right by 2 px per frame: every frame differs from the others.
    private static float[] MovingSquare(int frames, int h, int w)
    {
        var clip = new float[frames * 3 * h * w];
        for (var t = 0; t < frames; t++)
        for (var y = 0; y < h; y++)
        for (var x = 0; x < w; x++)
        {
            var inSquare = x >= 2 + 2 * t && x < 10 + 2 * t && y >= h / 2 - 4 && y < h / 2 + 4;
            var b = t * 3 * h * w + y * w + x;
            clip[b] = inSquare ? 0.95f : 0.2f + 0.5f * x / w;
            clip[b + h * w] = inSquare ? 0.9f : 0.3f + 0.4f * y / h;
            clip[b + 2 * h * w] = inSquare ? 0.1f : 0.5f;
        }
        return clip;
    }

    private static float[] Frame(float[] clip, int t, int len) => clip.AsSpan(t * len, len).ToArray();

    private static double MeanAbs(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Average();

    [FfmpegFact]
    public void WrittenClipDecodesBackCloseToTheOriginalInOrder()
    {
        const int T = 12, H = 32, W = 48;
        var clip = MovingSquare(T, H, W);
        var path = Path.Combine(dir, "square.mp4");
        var writer = new VideoClipWriter(frameRate: 12);
        writer.Write(path, clip, T, H, W);

        var info = VideoInfo.Probe(path);
        Assert.Equal((W, H, (long)T), (info.Width, info.Height, info.FrameCount));
        Assert.Equal(12, info.FrameRate, 3);

        var decoded = new VideoFrameDecoder(T, H, W).Decode(path);
        Assert.Equal(T * 3 * H * W, decoded.Length);
        Assert.All(decoded, v => Assert.InRange(v, 0f, 1f));
        var mae = MeanAbs(clip, decoded);
        output.WriteLine($"{writer.Codec} round trip: mean abs error {mae:F4}");
        Assert.True(mae < 0.03, $"mean abs error {mae}");
        // Order: each decoded frame is closest to the original frame with the same index.
        var len = 3 * H * W;
        for (var t = 0; t < T; t++)
        {
            var d = Frame(decoded, t, len);
            var best = Enumerable.Range(0, T).OrderBy(k => MeanAbs(Frame(clip, k, len), d)).First();
            Assert.Equal(t, best);
        }
    }

    [FfmpegFact]
    public void Mpeg4CodecAlsoRoundTrips()
    {
        const int T = 6, H = 32, W = 32;
        var clip = MovingSquare(T, H, W);
        var path = Path.Combine(dir, "square_mpeg4.mp4");
        new VideoClipWriter(codec: VideoClipCodec.Mpeg4).Write(path, clip, T, H, W);
        Assert.Equal("mpeg4", VideoInfo.Probe(path).Codec);
        var mae = MeanAbs(clip, new VideoFrameDecoder(T, H, W).Decode(path));
        output.WriteLine($"mpeg4 round trip: mean abs error {mae:F4}");
        Assert.True(mae < 0.05, $"mean abs error {mae}");
    }

    [FfmpegFact]
    public void SamplesTheMiddleFrameOfEachUniformSegment()
    {
        // 20 flat grey frames, frame k at level k/19; T = 5 must pick frames 2, 6, 10, 14, 18.
        const int N = 20, H = 16, W = 16;
        var clip = new float[N * 3 * H * W];
        for (var k = 0; k < N; k++) Array.Fill(clip, k / 19f, k * 3 * H * W, 3 * H * W);
        var path = Path.Combine(dir, "grey.mp4");
        new VideoClipWriter().Write(path, clip, N, H, W);

        Assert.Equal(new[] { 2, 6, 10, 14, 18 }, FrameSampling.Uniform(N, 5));
        var decoded = new VideoFrameDecoder(5, 8, 12).Decode(path);
        Assert.Equal(5 * 3 * 8 * 12, decoded.Length);
        var len = 3 * 8 * 12;
        var levels = Enumerable.Range(0, 5).Select(t => decoded.AsSpan(t * len, len).ToArray().Average()).ToArray();
        output.WriteLine("sampled grey levels × 19: " + string.Join(", ", levels.Select(l => (l * 19).ToString("F2"))));
        var expected = new[] { 2, 6, 10, 14, 18 };
        for (var t = 0; t < 5; t++) Assert.InRange(levels[t] * 19, expected[t] - 0.3, expected[t] + 0.3);
    }

    [FfmpegFact]
    public void ResizesToTheRequestedSize()
    {
        const int T = 4, H = 32, W = 48;
        var clip = MovingSquare(T, H, W);
        var path = Path.Combine(dir, "resize.mp4");
        new VideoClipWriter().Write(path, clip, T, H, W);
        // Halving both sides: compare with a 2×2 box-average of the original (bilinear differs only slightly).
        var small = new VideoFrameDecoder(T, H / 2, W / 2).Decode(path);
        var expected = new float[small.Length];
        int h2 = H / 2, w2 = W / 2;
        for (var tc = 0; tc < T * 3; tc++)
        for (var y = 0; y < h2; y++)
        for (var x = 0; x < w2; x++)
        {
            var s = tc * H * W;
            expected[tc * h2 * w2 + y * w2 + x] = (clip[s + 2 * y * W + 2 * x] + clip[s + 2 * y * W + 2 * x + 1]
                + clip[s + (2 * y + 1) * W + 2 * x] + clip[s + (2 * y + 1) * W + 2 * x + 1]) / 4;
        }
        var mae = MeanAbs(expected, small);
        output.WriteLine($"downscaled decode vs box-averaged original: mean abs error {mae:F4}");
        Assert.True(mae < 0.04, $"mean abs error {mae}");
    }

    [Fact]
    public void MissingFileIsReportedByName()
    {
        var path = Path.Combine(dir, "nope.mp4");
        var e = Assert.Throws<FileNotFoundException>(() => new VideoFrameDecoder(4, 8, 8).Decode(path));
        Assert.Contains("nope.mp4", e.Message);
        Assert.Equal(path, e.FileName);
    }

    [Fact]
    public void MissingFfmpegIsReportedWithInstallHint()
    {
        var path = Path.Combine(dir, "any.mp4");
        File.WriteAllBytes(path, new byte[16]);
        var decoder = new VideoFrameDecoder(4, 8, 8, ffmpegPath: Path.Combine(dir, "no-ffmpeg"), ffprobePath: Path.Combine(dir, "no-ffprobe"));
        var e = Assert.Throws<InvalidOperationException>(() => decoder.Decode(path));
        Assert.Contains("no-ffprobe", e.Message);
        Assert.Contains("apt-get install ffmpeg", e.Message);
        Assert.False(FfmpegProcess.IsAvailable(Path.Combine(dir, "no-ffmpeg"), Path.Combine(dir, "no-ffprobe")));
    }

    [FfmpegFact]
    public void NonVideoFileIsReportedByName()
    {
        var path = Path.Combine(dir, "notes.mp4");
        File.WriteAllText(path, "this is not a video");
        var e = Assert.Throws<VideoDecodingException>(() => new VideoFrameDecoder(4, 8, 8).Decode(path));
        Assert.Contains("notes.mp4", e.Message);
        Assert.Equal(path, e.FilePath);
        output.WriteLine(e.Message);
    }

    [FfmpegFact]
    public void TooShortVideoIsReportedWithItsFrameCount()
    {
        var path = Path.Combine(dir, "short.mp4");
        new VideoClipWriter().Write(path, MovingSquare(6, 16, 16), 6, 16, 16);
        var e = Assert.Throws<VideoDecodingException>(() => new VideoFrameDecoder(8, 16, 16).Decode(path));
        Assert.Contains("short.mp4", e.Message);
        Assert.Contains("6 frame", e.Message);
        Assert.Contains("8 frames", e.Message);
        // Exactly T frames is enough.
        Assert.Equal(6 * 3 * 16 * 16, new VideoFrameDecoder(6, 16, 16).Decode(path).Length);
    }

    [FfmpegFact]
    public void WriterRejectsMalformedClips()
    {
        var writer = new VideoClipWriter();
        var path = Path.Combine(dir, "bad.mp4");
        Assert.Throws<ArgumentException>(() => writer.Write(path, new float[10], 2, 4, 4));
        var nan = new float[2 * 3 * 4 * 4];
        nan[5] = float.NaN;
        Assert.Throws<ArgumentException>(() => writer.Write(path, nan, 2, 4, 4));
        Assert.Throws<ArgumentException>(() => new VideoClipWriter(codec: VideoClipCodec.Mpeg4).Write(path, new float[3 * 5 * 4], 1, 5, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => new VideoFrameDecoder(-1, 8, 8)); // 0 = every frame (variable-length clips)
        Assert.Throws<ArgumentOutOfRangeException>(() => FrameSampling.Uniform(3, 4));
    }

    [Fact]
    public void UniformSamplingIsDistinctIncreasingAndCentred()
    {
        Assert.Equal(new[] { 0, 1, 2, 3 }, FrameSampling.Uniform(4, 4));
        Assert.Equal(new[] { 50 }, FrameSampling.Uniform(100, 1));
        foreach (var (n, t) in new[] { (16L, 16), (17L, 16), (31L, 16), (1000L, 16), (300L, 7) })
        {
            var idx = FrameSampling.Uniform(n, t);
            Assert.Equal(t, idx.Length);
            Assert.True(idx.Zip(idx.Skip(1)).All(p => p.First < p.Second), $"not increasing for N={n}, T={t}");
            Assert.InRange(idx[0], 0, n / t);
            Assert.InRange(idx[^1], n - 1 - n / t, n - 1);
        }
    }
}

/// <summary>From a video file to SqueezeTime logits.</summary>
public sealed class VideoToModelTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("mlnetext-video-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void ToBatchPermutesToNcthwAndNormalises()
    {
        // Clip of 2 frames, 3 colours, 1×2 pixels; value encodes (t, c, x).
        var clip = new float[2 * 3 * 2];
        for (var t = 0; t < 2; t++)
        for (var c = 0; c < 3; c++)
        for (var x = 0; x < 2; x++)
            clip[(t * 3 + c) * 2 + x] = (t * 100 + c * 10 + x) / 255f;
        using var raw = MLNetExtensions.Transforms.SqueezeTime.SqueezeTimeClip.ToBatch(new[] { clip, clip }, 2, 1, 2, normalize: false);
        Assert.Equal(new long[] { 2, 3, 2, 1, 2 }, raw.shape);
        Assert.Equal((100 + 20 + 1) / 255f, raw[1, 2, 1, 0, 1].item<float>(), 6);
        using var norm = MLNetExtensions.Transforms.SqueezeTime.SqueezeTimeClip.ToBatch(new[] { clip }, 2, 1, 2);
        Assert.Equal((121f - 103.53f) / 57.375f, norm[0, 2, 1, 0, 1].item<float>(), 4);
        Assert.Throws<ArgumentException>(() => MLNetExtensions.Transforms.SqueezeTime.SqueezeTimeClip.ToBatch(new[] { new float[5] }, 2, 1, 2));
    }

    [FfmpegFact]
    public void DecodedVideoRunsThroughTheModel()
    {
        var path = Path.Combine(dir, "clip.mp4");
        var clip = new float[10 * 3 * 32 * 32];
        var rng = new Random(1);
        for (var i = 0; i < clip.Length; i++) clip[i] = (float)rng.NextDouble();
        new VideoClipWriter().Write(path, clip, 10, 32, 32);

        var decoder = new VideoFrameDecoder(8, 32, 32);
        var decoded = new[] { decoder.Decode(path), decoder.Decode(path) };
        Assert.Equal(decoded[0], decoded[1]); // decoding is deterministic
        using var scope = TorchSharp.torch.NewDisposeScope();
        using var model = new MLNetExtensions.Transforms.SqueezeTime.SqueezeTimeModel(MLNetExtensions.Transforms.SqueezeTime.SqueezeTimeConfig.Tiny(numClasses: 5));
        model.eval();
        using var _ = TorchSharp.torch.inference_mode();
        var logits = model.call(MLNetExtensions.Transforms.SqueezeTime.SqueezeTimeClip.ToBatch(decoded, 8, 32, 32));
        Assert.Equal(new long[] { 2, 5 }, logits.shape);
        Assert.True(logits.isfinite().all().item<bool>());
    }
}

using System.Globalization;
using System.Text;

namespace MLNetExtensions.Transforms.Video;

/// <summary>
/// Decodes a video file into a clip of <see cref="Frames"/> frames sampled uniformly over the whole video
/// (<see cref="FrameSampling.Uniform"/>) — or, with <see cref="Frames"/> = 0, into every decoded frame (an untrimmed
/// video whose length follows its duration) — each resized to <see cref="Height"/>×<see cref="Width"/> (aspect ratio not
/// kept, bilinear), as RGB floats in [0, 1] laid out T×C×H×W (C = 3). Runs the <c>ffmpeg</c> executable, which writes
/// raw rgb24 frames to a pipe; no frames are written to disk.
/// </summary>
/// <remarks>
/// SqueezeTime takes (N, C, T, H, W): permute the T×C×H×W clip (or a batch N×T×C×H×W) with dims (1, 0, 2, 3)
/// (resp. (0, 2, 1, 3, 4)) and normalise with <c>SqueezeTimeConfig.PixelMean/PixelStd</c> scaled by 1/255.
/// Thread-safe: every call starts its own processes.
/// </remarks>
public sealed class VideoFrameDecoder
{
    private const int Channels = 3;
    private readonly string ffmpegPath;
    private readonly string ffprobePath;

    /// <summary>Creates a decoder.</summary>
    /// <param name="frames">Frames T per clip (≥ 1); 0 = every frame of the video (the clip length varies per file).</param>
    /// <param name="height">Output frame height H (≥ 1).</param>
    /// <param name="width">Output frame width W (≥ 1).</param>
    /// <param name="ffmpegPath">ffmpeg executable; default <see cref="FfmpegProcess.DefaultFfmpegPath"/>.</param>
    /// <param name="ffprobePath">ffprobe executable; default <see cref="FfmpegProcess.DefaultFfprobePath"/>.</param>
    public VideoFrameDecoder(int frames, int height, int width, string? ffmpegPath = null, string? ffprobePath = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(frames, 0);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        Frames = frames;
        Height = height;
        Width = width;
        this.ffmpegPath = ffmpegPath ?? FfmpegProcess.DefaultFfmpegPath;
        this.ffprobePath = ffprobePath ?? FfmpegProcess.DefaultFfprobePath;
    }

    /// <summary>Frames T per clip; 0 = every frame.</summary>
    public int Frames { get; }

    /// <summary>True when every frame is decoded (<see cref="Frames"/> = 0).</summary>
    public bool AllFrames => Frames == 0;

    /// <summary>Output height H.</summary>
    public int Height { get; }

    /// <summary>Output width W.</summary>
    public int Width { get; }

    /// <summary>Length of a decoded clip: T·3·H·W (0 when every frame is decoded: the length varies).</summary>
    public int ClipLength => Frames * Channels * Height * Width;

    /// <summary>Decodes a clip: T×3×H×W floats in [0, 1], frame-major then R, G, B planes.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="VideoDecodingException">Not a video, unreadable, or fewer than T frames (the message names the file).</exception>
    /// <exception cref="InvalidOperationException">ffmpeg/ffprobe is not installed.</exception>
    public float[] Decode(string path, CancellationToken cancellationToken = default)
    {
        if (AllFrames) return DecodeAll(path, cancellationToken);
        var info = VideoInfo.Probe(path, ffprobePath, cancellationToken);
        if (info.FrameCount > 0 && info.FrameCount < Frames)
            throw TooFew(path, info.FrameCount);
        var count = info.FrameCount;
        if (count <= 0) count = CountDecodedFrames(path, cancellationToken);

        var rgb = DecodeSelected(path, FrameSampling.Uniform(count, Frames), cancellationToken);
        if (rgb is null)
        {
            // The container's count was too high (e.g. damaged tail): count the frames that really decode, resample once.
            count = CountDecodedFrames(path, cancellationToken);
            if (count < Frames) throw TooFew(path, count);
            rgb = DecodeSelected(path, FrameSampling.Uniform(count, Frames), cancellationToken)
                  ?? throw new VideoDecodingException(path, $"'{path}' decoded fewer frames than ffprobe counted ({count}).");
        }
        return ToPlanarFloats(rgb, Frames);
    }

    private VideoDecodingException TooFew(string path, long count) =>
        new(path, $"'{path}' has {count} frame(s), fewer than the {Frames} frames per clip requested.");

    // Raw rgb24 bytes of the selected frames (T·H·W·3), or null when the stream ended before the last selected index.
    private byte[]? DecodeSelected(string path, int[] indices, CancellationToken cancellationToken)
    {
        // select keeps only the wanted decoded frames (n counts decoded frames from 0) before scaling, and passthrough
        // stops the muxer from duplicating or dropping frames to honour a frame rate.
        var select = new StringBuilder("select='");
        for (var i = 0; i < indices.Length; i++)
            select.Append(i == 0 ? "" : "+").Append("eq(n\\,").Append(indices[i].ToString(CultureInfo.InvariantCulture)).Append(')');
        select.Append('\'');
        var filter = $"{select},scale={Width}:{Height}:flags=bilinear,format=rgb24";
        var r = FfmpegProcess.Run(ffmpegPath, new[]
        {
            "-v", "error", "-nostdin", "-i", path, "-map", "0:v:0", "-vf", filter,
            "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1",
        }, null, cancellationToken);
        if (r.ExitCode != 0)
            throw new VideoDecodingException(path, $"'{path}' could not be decoded: {r.FirstError}");
        var expected = (long)Frames * Height * Width * Channels;
        if (r.Stdout.LongLength == expected) return r.Stdout;
        if (r.Stdout.LongLength < expected) return null;
        throw new VideoDecodingException(path, $"ffmpeg returned {r.Stdout.LongLength} bytes for '{path}', expected {expected}.");
    }

    // Every decoded frame (N×H×W×3 rgb24 → N×3×H×W floats); N follows the video's duration.
    private float[] DecodeAll(string path, CancellationToken cancellationToken)
    {
        VideoInfo.Probe(path, ffprobePath, cancellationToken); // missing file / not a video: the same errors as a clip
        var r = FfmpegProcess.Run(ffmpegPath, new[]
        {
            "-v", "error", "-nostdin", "-i", path, "-map", "0:v:0", "-vf", $"scale={Width}:{Height}:flags=bilinear,format=rgb24",
            "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1",
        }, null, cancellationToken);
        if (r.ExitCode != 0)
            throw new VideoDecodingException(path, $"'{path}' could not be decoded: {r.FirstError}");
        long frameBytes = (long)Height * Width * Channels;
        if (r.Stdout.LongLength == 0 || r.Stdout.LongLength % frameBytes != 0)
            throw new VideoDecodingException(path, $"ffmpeg returned {r.Stdout.LongLength} bytes for '{path}', not a positive multiple of one {Width}×{Height} frame.");
        if (r.Stdout.LongLength > int.MaxValue)
            throw new VideoDecodingException(path, $"'{path}' has {r.Stdout.LongLength / frameBytes} frames of {Width}×{Height}: too many values for one vector; lower the frame size.");
        return ToPlanarFloats(r.Stdout, (int)(r.Stdout.LongLength / frameBytes));
    }

    // Exact count by decoding the whole stream (only when the container count is missing or wrong).
    private long CountDecodedFrames(string path, CancellationToken cancellationToken)
    {
        var r = FfmpegProcess.Run(ffprobePath, new[]
        {
            "-v", "error", "-select_streams", "v:0", "-count_frames",
            "-show_entries", "stream=nb_read_frames", "-of", "default=noprint_wrappers=1:nokey=1", path,
        }, null, cancellationToken);
        if (r.ExitCode != 0)
            throw new VideoDecodingException(path, $"'{path}' could not be decoded: {r.FirstError}");
        var text = Encoding.UTF8.GetString(r.Stdout).Trim();
        return long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 0;
    }

    // rgb24 is T×H×W×3 interleaved; the clip is T×3×H×W planar in [0, 1].
    private float[] ToPlanarFloats(byte[] rgb, int frames)
    {
        var hw = Height * Width;
        var clip = new float[frames * Channels * hw];
        for (var t = 0; t < frames; t++)
        {
            var src = t * hw * Channels;
            var dst = t * hw * Channels;
            for (var p = 0; p < hw; p++)
            for (var c = 0; c < Channels; c++)
                clip[dst + c * hw + p] = rgb[src + p * Channels + c] / 255f;
        }
        return clip;
    }
}

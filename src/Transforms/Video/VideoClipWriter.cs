using System.Globalization;

namespace MLNetExtensions.Transforms.Video;

/// <summary>Video codec used by <see cref="VideoClipWriter"/>.</summary>
public enum VideoClipCodec
{
    /// <summary>H.264 (libx264) when the ffmpeg build has it, else MPEG-4 part 2.</summary>
    Auto,

    /// <summary>H.264 through libx264 (yuv420p when both sides are even, else yuv444p).</summary>
    H264,

    /// <summary>MPEG-4 part 2 (ffmpeg's native <c>mpeg4</c> encoder, yuv420p: both sides must be even).</summary>
    Mpeg4,
}

/// <summary>
/// Encodes a T×C×H×W float clip in [0, 1] (C = 3, RGB) to a video file (the container follows the extension,
/// e.g. <c>.mp4</c>) by piping raw rgb24 frames into the <c>ffmpeg</c> executable. Meant for tests and synthetic
/// data: the inverse of <see cref="VideoFrameDecoder"/> up to codec loss.
/// </summary>
public sealed class VideoClipWriter
{
    private const int Channels = 3;
    // Encoder lists per ffmpeg executable, asked once.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> HasLibx264 = new();

    private static bool SupportsLibx264(string ffmpeg) => HasLibx264.GetOrAdd(ffmpeg, exe =>
    {
        try
        {
            var r = FfmpegProcess.Run(exe, new[] { "-hide_banner", "-encoders" }, null, CancellationToken.None);
            return r.ExitCode == 0 && System.Text.Encoding.UTF8.GetString(r.Stdout).Contains(" libx264 ");
        }
        catch (InvalidOperationException)
        {
            return true; // ffmpeg missing: Write reports that clearly; do not mask it with a codec choice.
        }
    });

    private readonly string ffmpegPath;

    /// <summary>Creates a writer.</summary>
    /// <param name="frameRate">Frames per second written into the file (&gt; 0).</param>
    /// <param name="codec">Codec; <see cref="VideoClipCodec.Auto"/> picks H.264 when available.</param>
    /// <param name="quality">
    /// Codec quality, lower is better: libx264 CRF 0–51 (default 12, visually lossless), mpeg4 <c>-q:v</c> 1–31
    /// (default 12 maps to 2).
    /// </param>
    /// <param name="ffmpegPath">ffmpeg executable; default <see cref="FfmpegProcess.DefaultFfmpegPath"/>.</param>
    public VideoClipWriter(double frameRate = 25, VideoClipCodec codec = VideoClipCodec.Auto, int quality = 12, string? ffmpegPath = null)
    {
        if (!(frameRate > 0) || double.IsInfinity(frameRate)) throw new ArgumentOutOfRangeException(nameof(frameRate), "Frame rate must be positive.");
        ArgumentOutOfRangeException.ThrowIfNegative(quality);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(quality, 51);
        FrameRate = frameRate;
        this.ffmpegPath = ffmpegPath ?? FfmpegProcess.DefaultFfmpegPath;
        Codec = codec != VideoClipCodec.Auto ? codec : SupportsLibx264(this.ffmpegPath) ? VideoClipCodec.H264 : VideoClipCodec.Mpeg4;
        Quality = quality;
    }

    /// <summary>Frames per second.</summary>
    public double FrameRate { get; }

    /// <summary>The codec actually used (never <see cref="VideoClipCodec.Auto"/>).</summary>
    public VideoClipCodec Codec { get; }

    /// <summary>Codec quality (lower is better).</summary>
    public int Quality { get; }

    /// <summary>Writes a clip (T×3×H×W floats; values are clamped to [0, 1]) to <paramref name="path"/>, replacing it.</summary>
    /// <exception cref="ArgumentException">Wrong clip length, NaN values, or odd sides with MPEG-4.</exception>
    /// <exception cref="IOException">ffmpeg failed to encode (its message is included).</exception>
    /// <exception cref="InvalidOperationException">ffmpeg is not installed.</exception>
    public void Write(string path, ReadOnlySpan<float> clip, int frames, int height, int width, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfLessThan(frames, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        var hw = height * width;
        if (clip.Length != frames * Channels * hw)
            throw new ArgumentException($"A clip of {frames}×{Channels}×{height}×{width} needs {frames * Channels * hw} values; got {clip.Length}.", nameof(clip));
        var even = height % 2 == 0 && width % 2 == 0;
        if (Codec == VideoClipCodec.Mpeg4 && !even)
            throw new ArgumentException($"MPEG-4 (yuv420p) needs even frame sides; got {height}×{width}.", nameof(clip));

        var rgb = new byte[clip.Length];
        for (var t = 0; t < frames; t++)
        {
            var b = t * hw * Channels;
            for (var c = 0; c < Channels; c++)
            for (var p = 0; p < hw; p++)
            {
                var v = clip[b + c * hw + p];
                if (float.IsNaN(v)) throw new ArgumentException($"The clip contains NaN (frame {t}, channel {c}).", nameof(clip));
                rgb[b + p * Channels + c] = (byte)MathF.Round(Math.Clamp(v, 0f, 1f) * 255f);
            }
        }

        var inv = CultureInfo.InvariantCulture;
        var args = new List<string>
        {
            "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", $"{width}x{height}",
            "-framerate", FrameRate.ToString("R", inv), "-i", "pipe:0",
        };
        if (Codec == VideoClipCodec.H264)
            args.AddRange(new[] { "-c:v", "libx264", "-preset", "veryfast", "-crf", Quality.ToString(inv), "-pix_fmt", even ? "yuv420p" : "yuv444p" });
        else
            args.AddRange(new[] { "-c:v", "mpeg4", "-q:v", Math.Clamp(Quality / 6 + 1, 1, 31).ToString(inv), "-pix_fmt", "yuv420p" });
        args.Add(path);

        var r = FfmpegProcess.Run(ffmpegPath, args, rgb, cancellationToken);
        if (r.ExitCode != 0) throw new IOException($"ffmpeg could not write '{path}': {r.FirstError}");
    }
}

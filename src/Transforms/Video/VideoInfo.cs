using System.Globalization;

namespace MLNetExtensions.Transforms.Video;

/// <summary>Properties of a file's first video stream, as reported by ffprobe.</summary>
/// <param name="Width">Coded width in pixels.</param>
/// <param name="Height">Coded height in pixels.</param>
/// <param name="FrameCount">Frames in the stream: the container's count when present, else the number of packets demuxed.</param>
/// <param name="FrameRate">Average frame rate (frames per second), 0 when unknown.</param>
/// <param name="Codec">Codec name (e.g. <c>h264</c>).</param>
public sealed record VideoInfo(int Width, int Height, long FrameCount, double FrameRate, string Codec)
{
    /// <summary>Reads a file's first video stream with ffprobe.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="VideoDecodingException">The file is not readable as a video or has no video stream.</exception>
    /// <exception cref="InvalidOperationException">ffprobe is not installed.</exception>
    public static VideoInfo Probe(string path, string? ffprobePath = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Video file not found: '{path}'.", path);
        // -count_packets demuxes without decoding: cheap, and a frame count for containers that store none (mkv, webm).
        var r = FfmpegProcess.Run(ffprobePath ?? FfmpegProcess.DefaultFfprobePath, new[]
        {
            "-v", "error", "-select_streams", "v:0", "-count_packets",
            "-show_entries", "stream=codec_type,codec_name,width,height,nb_frames,nb_read_packets,avg_frame_rate",
            "-of", "default=noprint_wrappers=1", path,
        }, null, cancellationToken);
        if (r.ExitCode != 0)
            throw new VideoDecodingException(path, $"'{path}' could not be read as a video: {r.FirstError}");
        var fields = System.Text.Encoding.UTF8.GetString(r.Stdout)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => l.Split('=', 2)).Where(kv => kv.Length == 2)
            .GroupBy(kv => kv[0]).ToDictionary(g => g.Key, g => g.First()[1]);
        if (!fields.TryGetValue("codec_type", out var type) || type != "video")
            throw new VideoDecodingException(path, $"'{path}' contains no video stream.");
        var width = ParseLong(fields, "width");
        var height = ParseLong(fields, "height");
        var frames = ParseLong(fields, "nb_frames");
        if (frames <= 0) frames = ParseLong(fields, "nb_read_packets");
        if (width <= 0 || height <= 0)
            throw new VideoDecodingException(path, $"'{path}' has a video stream without a valid frame size.");
        return new VideoInfo((int)width, (int)height, Math.Max(frames, 0), ParseRate(fields.GetValueOrDefault("avg_frame_rate")),
            fields.GetValueOrDefault("codec_name") ?? "unknown");
    }

    private static long ParseLong(Dictionary<string, string> f, string key) =>
        f.TryGetValue(key, out var s) && long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : -1;

    private static double ParseRate(string? s)
    {
        if (s is null) return 0;
        var parts = s.Split('/');
        if (parts.Length == 2
            && double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var num)
            && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var den) && den != 0)
            return num / den;
        return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : 0;
    }
}

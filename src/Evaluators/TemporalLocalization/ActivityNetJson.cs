using System.Text.Json;

namespace MLNetExtensions.Evaluators.TemporalLocalization;

/// <summary>
/// ActivityNet JSON files. Ground truth: <c>{"version", "database": {video: {"subset", "duration"?, "annotations":
/// [{"segment": [s, e], "label"}]}}}</c>. Predictions: <c>{"version", "results": {video: [{"label", "score",
/// "segment": [s, e]}]}, "external_data"}</c>. Order is kept (it breaks ties in the evaluator); writes are atomic.
/// </summary>
public static class ActivityNetJson
{
    /// <summary>Reads ground-truth segments from a file; <paramref name="subset"/> null keeps every video.</summary>
    public static List<GroundTruthSegment> ReadGroundTruth(string path, string? subset = null)
    {
        using var s = File.OpenRead(path);
        return ReadGroundTruth(s, subset, path);
    }

    /// <summary>Reads ground-truth segments from a stream; <paramref name="subset"/> null keeps every video.</summary>
    public static List<GroundTruthSegment> ReadGroundTruth(Stream stream, string? subset = null, string source = "stream")
    {
        using var doc = JsonDocument.Parse(stream);
        var db = Property(doc.RootElement, "database", source, JsonValueKind.Object);
        var result = new List<GroundTruthSegment>();
        foreach (var video in db.EnumerateObject())
        {
            string where = $"{source}: database.{video.Name}";
            if (subset is not null)
            {
                var sub = Property(video.Value, "subset", where, JsonValueKind.String).GetString();
                if (sub != subset) continue;
            }
            int i = 0;
            foreach (var ann in Property(video.Value, "annotations", where, JsonValueKind.Array).EnumerateArray())
            {
                string at = $"{where}.annotations[{i++}]";
                var (s, e) = Segment(ann, at);
                result.Add(new GroundTruthSegment(video.Name, s, e, Property(ann, "label", at, JsonValueKind.String).GetString()!));
            }
        }
        return result;
    }

    /// <summary>Reads predicted segments from a file.</summary>
    public static List<PredictedSegment> ReadPredictions(string path)
    {
        using var s = File.OpenRead(path);
        return ReadPredictions(s, path);
    }

    /// <summary>Reads predicted segments from a stream.</summary>
    public static List<PredictedSegment> ReadPredictions(Stream stream, string source = "stream")
    {
        using var doc = JsonDocument.Parse(stream);
        var results = Property(doc.RootElement, "results", source, JsonValueKind.Object);
        var list = new List<PredictedSegment>();
        foreach (var video in results.EnumerateObject())
        {
            if (video.Value.ValueKind != JsonValueKind.Array)
                throw new InvalidDataException($"{source}: results.{video.Name} must be an array of detections, found {video.Value.ValueKind}.");
            int i = 0;
            foreach (var r in video.Value.EnumerateArray())
            {
                string at = $"{source}: results.{video.Name}[{i++}]";
                var (s, e) = Segment(r, at);
                var label = Property(r, "label", at, JsonValueKind.String).GetString()!;
                var score = Property(r, "score", at, JsonValueKind.Number).GetDouble();
                list.Add(new PredictedSegment(video.Name, s, e, label, score));
            }
        }
        return list;
    }

    /// <summary>Writes ground truth grouped by video (first-appearance order); <paramref name="durations"/> adds each video's <c>duration</c>.</summary>
    public static void WriteGroundTruth(string path, IEnumerable<GroundTruthSegment> groundTruth, string subset = "test",
        IReadOnlyDictionary<string, double>? durations = null, string version = "MLNetExtensions")
    {
        ArgumentNullException.ThrowIfNull(groundTruth);
        var byVideo = GroupByVideo(groundTruth, g => g.VideoId);
        WriteAtomic(path, w =>
        {
            w.WriteStartObject();
            w.WriteString("version", version);
            w.WriteStartObject("database");
            foreach (var (video, segs) in byVideo)
            {
                w.WriteStartObject(video);
                w.WriteString("subset", subset);
                if (durations is not null && durations.TryGetValue(video, out var d)) w.WriteNumber("duration", d);
                w.WriteStartArray("annotations");
                foreach (var g in segs)
                {
                    w.WriteStartObject();
                    WriteSegment(w, g.Start, g.End);
                    w.WriteString("label", g.Label);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteEndObject();
        });
    }

    /// <summary>Writes predictions grouped by video (first-appearance order) in the ActivityNet submission layout.</summary>
    public static void WritePredictions(string path, IEnumerable<PredictedSegment> predictions, string version = "MLNetExtensions")
    {
        ArgumentNullException.ThrowIfNull(predictions);
        var byVideo = GroupByVideo(predictions, p => p.VideoId);
        WriteAtomic(path, w =>
        {
            w.WriteStartObject();
            w.WriteString("version", version);
            w.WriteStartObject("results");
            foreach (var (video, segs) in byVideo)
            {
                w.WriteStartArray(video);
                foreach (var p in segs)
                {
                    w.WriteStartObject();
                    w.WriteString("label", p.Label);
                    w.WriteNumber("score", p.Score);
                    WriteSegment(w, p.Start, p.End);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
            w.WriteStartObject("external_data");
            w.WriteBoolean("used", false);
            w.WriteString("details", "");
            w.WriteEndObject();
            w.WriteEndObject();
        });
    }

    private static List<(string Video, List<T> Items)> GroupByVideo<T>(IEnumerable<T> items, Func<T, string> video)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var groups = new List<(string, List<T>)>();
        foreach (var item in items)
        {
            var v = video(item) ?? throw new ArgumentException("A segment has no video id.");
            if (!index.TryGetValue(v, out int i)) { index[v] = i = groups.Count; groups.Add((v, new List<T>())); }
            groups[i].Item2.Add(item);
        }
        return groups;
    }

    private static void WriteSegment(Utf8JsonWriter w, double s, double e)
    {
        if (!double.IsFinite(s) || !double.IsFinite(e)) throw new ArgumentException($"Segment [{s}, {e}] is not finite; JSON cannot hold it.");
        w.WriteStartArray("segment");
        w.WriteNumberValue(s);
        w.WriteNumberValue(e);
        w.WriteEndArray();
    }

    // Temp file in the same folder, flushed to disk, then renamed over the target: readers never see a partial file.
    private static void WriteAtomic(string path, Action<Utf8JsonWriter> write)
    {
        var full = Path.GetFullPath(path);
        var tmp = full + "." + Guid.NewGuid().ToString("N") + ".tmp";
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write))
            {
                using (var w = new Utf8JsonWriter(fs, new JsonWriterOptions { Indented = true }))
                    write(w);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    private static (double Start, double End) Segment(JsonElement e, string where)
    {
        var seg = Property(e, "segment", where, JsonValueKind.Array);
        if (seg.GetArrayLength() != 2 || seg[0].ValueKind != JsonValueKind.Number || seg[1].ValueKind != JsonValueKind.Number)
            throw new InvalidDataException($"{where}.segment must be [start, end] numbers, found {seg.GetRawText()}.");
        return (seg[0].GetDouble(), seg[1].GetDouble());
    }

    private static JsonElement Property(JsonElement e, string name, string where, JsonValueKind kind)
    {
        if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(name, out var v))
            throw new InvalidDataException($"{where}: missing \"{name}\" ({kind} expected).");
        if (v.ValueKind != kind)
            throw new InvalidDataException($"{where}.{name} must be {kind}, found {v.ValueKind}.");
        return v;
    }
}

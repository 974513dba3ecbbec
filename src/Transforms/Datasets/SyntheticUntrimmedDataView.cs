using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Transforms.Datasets;

/// <summary>
/// Synthetic untrimmed videos as an IDataView, one row per video: <c>VideoId</c> (Text), <c>Features</c>
/// (Vector&lt;Single&gt; of T×D, T differs per row), <c>Label</c> (Vector&lt;Key&lt;UInt32, K&gt;&gt; of the video's classes,
/// key values <c>c0…</c>), <c>Duration</c> (seconds) and the hidden ground truth <c>GroundTruthStart</c>,
/// <c>GroundTruthEnd</c> (seconds) and <c>GroundTruthLabel</c> (keys) — the layout the FuSTAL estimators and
/// <c>mlContext.TemporalLocalization().Evaluate</c> read.
/// </summary>
public static class SyntheticUntrimmedDataView
{
    /// <summary>Official snippet duration: 16 frames at 25 fps.</summary>
    public const double SecondsPerSnippet = 16.0 / 25;

    private sealed class Row
    {
        public string VideoId { get; set; } = "";
        public float[] Features { get; set; } = Array.Empty<float>();
        public uint[] Label { get; set; } = Array.Empty<uint>();
        public float Duration { get; set; }
        public float[] GroundTruthStart { get; set; } = Array.Empty<float>();
        public float[] GroundTruthEnd { get; set; } = Array.Empty<float>();
        public uint[] GroundTruthLabel { get; set; } = Array.Empty<uint>();
    }

    /// <summary>Class names of <paramref name="classes"/> synthetic classes.</summary>
    public static string[] ClassNames(int classes) => Enumerable.Range(0, classes).Select(i => "c" + i).ToArray();

    /// <summary>The rows of <paramref name="videos"/> (<paramref name="classes"/> classes); <paramref name="shuffleLabels"/> permutes the video labels (the label-shuffle control).</summary>
    public static IDataView Load(MLContext ml, IReadOnlyList<SyntheticVideo> videos, int classes, int? shuffleLabels = null)
    {
        ArgumentNullException.ThrowIfNull(ml);
        ArgumentNullException.ThrowIfNull(videos);
        var labels = videos.Select(v => v.Labels).ToList();
        if (shuffleLabels is int seed) { var rng = new Random(seed); labels = labels.OrderBy(_ => rng.Next()).ToList(); }
        var rows = videos.Select((v, i) =>
        {
            var inst = v.InstancesInSeconds(SecondsPerSnippet).ToList();
            return new Row
            {
                VideoId = v.Id, Features = v.Features, Duration = (float)(v.Length * SecondsPerSnippet),
                Label = Enumerable.Range(0, classes).Where(c => labels[i][c] > 0).Select(c => (uint)c + 1).ToArray(),
                GroundTruthStart = inst.Select(x => (float)x.Start).ToArray(), GroundTruthEnd = inst.Select(x => (float)x.End).ToArray(),
                GroundTruthLabel = inst.Select(x => (uint)x.ClassIndex + 1).ToArray(),
            };
        }).ToList();
        return ml.Data.LoadFromEnumerable(rows, KeyedDefinition(typeof(Row), ClassNames(classes), "Label", "GroundTruthLabel"));
    }

    /// <summary>The schema of <paramref name="rowType"/> with <paramref name="keyColumns"/> (uint[] properties) as Vector&lt;Key&gt; over <paramref name="classNames"/>.</summary>
    internal static SchemaDefinition KeyedDefinition(Type rowType, string[] classNames, params string[] keyColumns)
    {
        var def = SchemaDefinition.Create(rowType);
        int classes = classNames.Length;
        var names = new VBuffer<ReadOnlyMemory<char>>(classes, classNames.Select(n => n.AsMemory()).ToArray());
        foreach (var c in keyColumns)
        {
            def[c].ColumnType = new VectorDataViewType(new KeyDataViewType(typeof(uint), classes));
            def[c].AddAnnotation("KeyValues", names, new VectorDataViewType(TextDataViewType.Instance, classes));
        }
        return def;
    }
}

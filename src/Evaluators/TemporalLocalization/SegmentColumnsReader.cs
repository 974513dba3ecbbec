using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Evaluators.TemporalLocalization;

/// <summary>
/// Reads per-video rows (a text video id, segments as parallel vectors: starts, ends, class keys and, for predictions,
/// scores) into segment records. Class names come from the label columns' key values.
/// </summary>
public static class SegmentColumnsReader
{
    /// <summary>Ground truth and predictions of every row; rows of the same video are concatenated in row order.</summary>
    public static (List<GroundTruthSegment> GroundTruth, List<PredictedSegment> Predictions) Read(IDataView data, TemporalDetectionEvaluatorOptions options)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        var schema = data.Schema;
        var video = schema.GetColumnOrNull(options.VideoIdColumnName)
            ?? throw Missing(options.VideoIdColumnName, "the video id (Text)");
        if (video.Type is not TextDataViewType)
            throw new ArgumentException($"Column '{video.Name}' has type {video.Type}; expected Text (the video id).", nameof(data));
        var ps = FloatVector(schema, options.StartColumnName, "predicted segment starts");
        var pe = FloatVector(schema, options.EndColumnName, "predicted segment ends");
        var (pl, predNames) = KeyVector(schema, options.LabelColumnName, "predicted segment classes");
        var pc = FloatVector(schema, options.ScoreColumnName, "predicted segment scores");
        var gs = FloatVector(schema, options.GroundTruthStartColumnName, "ground-truth segment starts");
        var ge = FloatVector(schema, options.GroundTruthEndColumnName, "ground-truth segment ends");
        var (gl, gtNames) = KeyVector(schema, options.GroundTruthLabelColumnName, "ground-truth segment classes");

        var gt = new List<GroundTruthSegment>();
        var pred = new List<PredictedSegment>();
        using var cursor = data.GetRowCursor(new[] { video, ps, pe, pl, pc, gs, ge, gl });
        var getVideo = cursor.GetGetter<ReadOnlyMemory<char>>(video);
        var getPs = cursor.GetGetter<VBuffer<float>>(ps);
        var getPe = cursor.GetGetter<VBuffer<float>>(pe);
        var getPl = cursor.GetGetter<VBuffer<uint>>(pl);
        var getPc = cursor.GetGetter<VBuffer<float>>(pc);
        var getGs = cursor.GetGetter<VBuffer<float>>(gs);
        var getGe = cursor.GetGetter<VBuffer<float>>(ge);
        var getGl = cursor.GetGetter<VBuffer<uint>>(gl);
        ReadOnlyMemory<char> vid = default;
        VBuffer<float> bps = default, bpe = default, bpc = default, bgs = default, bge = default;
        VBuffer<uint> bpl = default, bgl = default;
        while (cursor.MoveNext())
        {
            getVideo(ref vid);
            var id = vid.ToString();
            getPs(ref bps); getPe(ref bpe); getPl(ref bpl); getPc(ref bpc);
            getGs(ref bgs); getGe(ref bge); getGl(ref bgl);
            var s = Dense(bps); var e = Dense(bpe); var l = Dense(bpl); var c = Dense(bpc);
            SameLength(id, (ps.Name, s.Length), (pe.Name, e.Length), (pl.Name, l.Length), (pc.Name, c.Length));
            for (int i = 0; i < s.Length; i++)
                pred.Add(new PredictedSegment(id, s[i], e[i], Name(predNames, l[i], pl.Name, id, i), c[i]));
            var gS = Dense(bgs); var gE = Dense(bge); var gL = Dense(bgl);
            SameLength(id, (gs.Name, gS.Length), (ge.Name, gE.Length), (gl.Name, gL.Length));
            for (int i = 0; i < gS.Length; i++)
                gt.Add(new GroundTruthSegment(id, gS[i], gE[i], Name(gtNames, gL[i], gl.Name, id, i)));
        }
        return (gt, pred);
    }

    private static T[] Dense<T>(in VBuffer<T> v) => v.DenseValues().ToArray();

    private static string Name(string[] names, uint key, string column, string video, int i)
    {
        if (key == 0 || key > names.Length)
            throw new ArgumentException($"Column '{column}', video '{video}', segment {i}: key {key} is missing or out of range (1–{names.Length}); every segment needs a class.");
        return names[key - 1];
    }

    private static void SameLength(string video, params (string Column, int Length)[] columns)
    {
        foreach (var c in columns)
            if (c.Length != columns[0].Length)
                throw new ArgumentException($"Video '{video}': column '{c.Column}' has {c.Length} segments but '{columns[0].Column}' has {columns[0].Length}; the segment columns must be parallel.");
    }

    private static DataViewSchema.Column FloatVector(DataViewSchema schema, string name, string role)
    {
        var col = schema.GetColumnOrNull(name) ?? throw Missing(name, $"{role} (Vector<Single>)");
        if (col.Type is not VectorDataViewType { ItemType: NumberDataViewType n } || n.RawType != typeof(float))
            throw new ArgumentException($"Column '{name}' has type {col.Type}; expected Vector<Single> of {role}.");
        return col;
    }

    private static (DataViewSchema.Column, string[]) KeyVector(DataViewSchema schema, string name, string role)
    {
        var col = schema.GetColumnOrNull(name) ?? throw Missing(name, $"{role} (Vector<Key<UInt32>> with text key values)");
        if (col.Type is not VectorDataViewType { ItemType: KeyDataViewType key } || key.RawType != typeof(uint))
            throw new ArgumentException($"Column '{name}' has type {col.Type}; expected Vector<Key<UInt32>> of {role} (e.g. from MapValueToKey).");
        if (!col.HasKeyValues() || col.Annotations.Schema[AnnotationKeyValues].Type is not VectorDataViewType { ItemType: TextDataViewType })
            throw new ArgumentException($"Column '{name}' has no text KeyValues annotation; the class names of {role} are read from it (MapValueToKey adds one).");
        VBuffer<ReadOnlyMemory<char>> names = default;
        col.GetKeyValues(ref names);
        return (col, names.DenseValues().Select(n => n.ToString()).ToArray());
    }

    private const string AnnotationKeyValues = "KeyValues";

    private static ArgumentException Missing(string name, string expected) =>
        new($"Column '{name}' was not found; expected {expected}.");
}

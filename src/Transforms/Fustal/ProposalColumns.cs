using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Data;

namespace MLNetExtensions.Transforms.Fustal;

/// <summary>
/// Reads per-video segments back from a view's parallel columns <c>{prefix}Start/End/Score/Label</c> (the teacher's
/// <c>Segment*</c>, the selection's <c>Pseudo*</c>, the student's <c>Segment*</c>) in one pass, copying every row.
/// </summary>
/// <remarks>
/// Why not <c>GetColumn&lt;VBuffer&lt;T&gt;&gt;().ToList()</c> per column: ML.NET getters reuse their buffer, so the
/// listed VBuffers share one array and every row reads as the last row's values (truncated to its own length) — the
/// cause of the example's pseudo-label precision of ~0.02 (docs/fustal.md).
/// </remarks>
public static class ProposalColumns
{
    /// <summary>Segments per video id (rows of one video concatenated), in row order; class index = key − 1.</summary>
    public static Dictionary<string, IReadOnlyList<TemporalProposal>> Read(IDataView data, string prefix = "Segment", string videoIdColumn = "VideoId")
    {
        ArgumentNullException.ThrowIfNull(data);
        var s = data.Schema;
        DataViewSchema.Column Col(string name, string expected) => s.GetColumnOrNull(name) ?? throw SchemaError.Missing(name, expected);
        var (id, st, en, sc, lb) = (Col(videoIdColumn, "a text column of video ids"), Col(prefix + "Start", "a Vector<Single> of segment starts"),
            Col(prefix + "End", "a Vector<Single> of segment ends"), Col(prefix + "Score", "a Vector<Single> of segment scores"), Col(prefix + "Label", "a Vector<Key<UInt32>> of segment classes"));
        var result = new Dictionary<string, List<TemporalProposal>>();
        using var cursor = data.GetRowCursor(new[] { id, st, en, sc, lb });
        var gId = cursor.GetGetter<ReadOnlyMemory<char>>(id);
        var (gS, gE, gC) = (cursor.GetGetter<VBuffer<float>>(st), cursor.GetGetter<VBuffer<float>>(en), cursor.GetGetter<VBuffer<float>>(sc));
        var gL = cursor.GetGetter<VBuffer<uint>>(lb);
        ReadOnlyMemory<char> vid = default; VBuffer<float> bs = default, be = default, bc = default; VBuffer<uint> bl = default;
        while (cursor.MoveNext())
        {
            gId(ref vid); gS(ref bs); gE(ref be); gC(ref bc); gL(ref bl);
            var (a, b, c, l) = (bs.DenseValues().ToArray(), be.DenseValues().ToArray(), bc.DenseValues().ToArray(), bl.DenseValues().ToArray());
            var key = vid.ToString();
            if (b.Length != a.Length || c.Length != a.Length || l.Length != a.Length)
                throw new InvalidDataException($"Video '{key}': columns '{st.Name}', '{en.Name}', '{sc.Name}', '{lb.Name}' hold {a.Length}, {b.Length}, {c.Length}, {l.Length} values; one per segment expected.");
            if (!result.TryGetValue(key, out var list)) result[key] = list = new List<TemporalProposal>();
            for (int j = 0; j < a.Length; j++)
            {
                if (l[j] == 0) throw new InvalidDataException($"Video '{key}': column '{lb.Name}' has a missing class key at segment {j}.");
                list.Add(new TemporalProposal((int)l[j] - 1, c[j], a[j], b[j]));
            }
        }
        return result.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<TemporalProposal>)kv.Value);
    }
}

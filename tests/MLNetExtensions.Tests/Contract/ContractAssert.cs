using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;

namespace MLNetExtensions.Tests.Contract;

/// <summary>Reading every appended output column of a scored view as numbers, and ML.NET's schema-shape rules.</summary>
internal static class ContractAssert
{
    /// <summary>Per appended column (those not in <paramref name="input"/>): every row's values as doubles.</summary>
    public static Dictionary<string, List<double[]>> Outputs(IDataView scored, DataViewSchema input, IEnumerable<string>? only = null)
    {
        var cols = scored.Schema.Where(c => input.GetColumnOrNull(c.Name) is not { } ic || ic.Index != c.Index || c.Index >= input.Count)
            .Where(c => c.Index >= input.Count).Where(c => only == null || only.Contains(c.Name)).ToList();
        var result = cols.ToDictionary(c => c.Name, _ => new List<double[]>());
        using var cursor = scored.GetRowCursor(cols);
        var getters = cols.Select(c => Getter(cursor, c)).ToList();
        while (cursor.MoveNext())
            for (int i = 0; i < cols.Count; i++) result[cols[i].Name].Add(getters[i]());
        return result;
    }

    private static Func<double[]> Getter(DataViewRowCursor cursor, DataViewSchema.Column c)
    {
        switch (c.Type)
        {
            case VectorDataViewType { ItemType: KeyDataViewType }:
            { var g = cursor.GetGetter<VBuffer<uint>>(c); VBuffer<uint> v = default; return () => { g(ref v); return v.DenseValues().Select(x => (double)x).ToArray(); }; }
            case VectorDataViewType v when v.ItemType == NumberDataViewType.Single:
            { var g = cursor.GetGetter<VBuffer<float>>(c); VBuffer<float> b = default; return () => { g(ref b); return b.DenseValues().Select(x => (double)x).ToArray(); }; }
            case NumberDataViewType n when n == NumberDataViewType.Single:
            { var g = cursor.GetGetter<float>(c); float f = 0; return () => { g(ref f); return new double[] { f }; }; }
            case KeyDataViewType:
            { var g = cursor.GetGetter<uint>(c); uint k = 0; return () => { g(ref k); return new double[] { k }; }; }
            case TextDataViewType:
            { var g = cursor.GetGetter<ReadOnlyMemory<char>>(c); ReadOnlyMemory<char> t = default; return () => { g(ref t); return t.ToString().Select(ch => (double)ch).ToArray(); }; }
            default: throw new NotSupportedException($"Output column '{c.Name}' has type {c.Type}.");
        }
    }

    public static void Equal(Dictionary<string, List<double[]>> expected, Dictionary<string, List<double[]>> actual, string what)
    {
        Assert.Equal(expected.Keys.OrderBy(k => k), actual.Keys.OrderBy(k => k));
        foreach (var (name, rows) in expected)
        {
            Assert.True(rows.Count > 0, $"{what}: column '{name}' has no rows");
            Assert.Equal(rows.Count, actual[name].Count);
            for (int r = 0; r < rows.Count; r++)
                Assert.True(rows[r].SequenceEqual(actual[name][r]), $"{what}: column '{name}' row {r} differs (max |Δ| {rows[r].Zip(actual[name][r], (a, b) => Math.Abs(a - b)).DefaultIfEmpty().Max():E2}).");
        }
    }

    /// <summary>
    /// ML.NET's <c>CheckSameSchemaShape</c> both ways: every promised column is delivered with the same kind, item type,
    /// key-ness and (at least) the promised annotations; every delivered column was promised.
    /// </summary>
    public static void PromisedMatchesDelivered(SchemaShape promised, DataViewSchema delivered)
    {
        var got = SchemaShapeOf(delivered);
        foreach (var p in promised)
        {
            Assert.True(Find(got, p.Name, out var d), $"promised column '{p.Name}' is not delivered");
            Assert.True(p.Kind == d.Kind, $"column '{p.Name}': promised {p.Kind}, delivered {d.Kind}");
            Assert.True(p.IsKey == d.IsKey, $"column '{p.Name}': promised key={p.IsKey}, delivered key={d.IsKey}");
            Assert.True(p.ItemType.RawType == d.ItemType.RawType, $"column '{p.Name}': promised {p.ItemType}, delivered {d.ItemType}");
            foreach (var a in p.Annotations)
                Assert.True(Find(d.Annotations, a.Name, out _), $"column '{p.Name}': promised annotation '{a.Name}' is not delivered");
        }
        foreach (var d in got)
            Assert.True(Find(promised, d.Name, out _), $"delivered column '{d.Name}' was not promised");
    }

    private static bool Find(SchemaShape shape, string name, out SchemaShape.Column column)
    {
        var found = shape.Where(c => c.Name == name).ToList();
        column = found.Count > 0 ? found[^1] : default;
        return found.Count > 0;
    }

    public static SchemaShape SchemaShapeOf(DataViewSchema schema) => MLNetExtensions.Core.Interop.MLNetInternals.ShapeOf(schema);
}

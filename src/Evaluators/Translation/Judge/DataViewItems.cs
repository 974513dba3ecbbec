using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Evaluators.Translation.Judge;

/// <summary>Reads <see cref="JudgeItem"/>s from text columns of an ML.NET <see cref="IDataView"/>.</summary>
internal static class DataViewItems
{
    public static List<JudgeItem> Read(IDataView data, string hypothesisColumn, string? referenceColumn, string? sourceColumn,
        string? systemColumn, string? documentIdColumn, string? targetLanguage)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentException.ThrowIfNullOrWhiteSpace(hypothesisColumn);
        var hyp = Column(data, hypothesisColumn, "hypothesis (the translation to judge)");
        var refc = referenceColumn is null ? (DataViewSchema.Column?)null : Column(data, referenceColumn, "reference translation");
        var src = sourceColumn is null ? (DataViewSchema.Column?)null : Column(data, sourceColumn, "source document");
        var sys = systemColumn is null ? (DataViewSchema.Column?)null : Column(data, systemColumn, "system name");
        var doc = documentIdColumn is null ? (DataViewSchema.Column?)null : Column(data, documentIdColumn, "document id");
        var cols = new[] { hyp, refc, src, sys, doc }.Where(c => c is not null).Select(c => c!.Value).ToArray();
        var items = new List<JudgeItem>();
        using var cursor = data.GetRowCursor(cols);
        ValueGetter<ReadOnlyMemory<char>>? G(DataViewSchema.Column? c) => c is null ? null : cursor.GetGetter<ReadOnlyMemory<char>>(c.Value);
        var gh = G(hyp)!; var gr = G(refc); var gs = G(src); var gy = G(sys); var gd = G(doc);
        string? Read(ValueGetter<ReadOnlyMemory<char>>? g) { if (g is null) return null; ReadOnlyMemory<char> v = default; g(ref v); return v.ToString(); }
        long row = 0;
        while (cursor.MoveNext())
        {
            items.Add(new JudgeItem(Read(gd) ?? row.ToString(System.Globalization.CultureInfo.InvariantCulture), Read(gy) ?? "system",
                Read(gh)!, Read(gr), Read(gs), targetLanguage));
            row++;
        }
        return items;
    }

    private static DataViewSchema.Column Column(IDataView data, string name, string what)
    {
        var col = data.Schema.GetColumnOrNull(name);
        if (col is null)
            throw new ArgumentException($"The IDataView has no column '{name}' ({what}). Available columns: {string.Join(", ", data.Schema.Where(c => !c.IsHidden).Select(c => $"'{c.Name}'"))}. " +
                "Pass the right column name, or null for an optional column.", name);
        if (col.Value.Type is not TextDataViewType)
            throw new ArgumentException($"Column '{name}' ({what}) must be a text column; it is {col.Value.Type}.", name);
        return col.Value;
    }
}

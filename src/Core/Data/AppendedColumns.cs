using Microsoft.ML;

namespace MLNetExtensions.Core.Data;

/// <summary>Helpers for row mappers that append columns computed from one input column.</summary>
public static class AppendedColumns
{
    /// <summary>
    /// <c>IRowToRowMapper.GetDependencies</c> for a mapper whose output schema is the input schema plus appended
    /// columns: requested input columns pass through, and any appended column needs every one of <paramref name="sourceColumns"/>.
    /// </summary>
    public static IEnumerable<DataViewSchema.Column> Dependencies(DataViewSchema input, IEnumerable<DataViewSchema.Column> dependingColumns, params string[] sourceColumns)
    {
        int n = input.Count;
        var deps = dependingColumns.Where(c => c.Index < n).Select(c => input[c.Index]).ToList();
        if (dependingColumns.Any(c => c.Index >= n)) deps.AddRange(sourceColumns.Select(s => input[s]));
        return deps.Distinct();
    }
}

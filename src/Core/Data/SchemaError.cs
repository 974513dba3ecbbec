using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Core.Data;

/// <summary>Uniform, actionable schema errors that name the column, what was expected and what was found.</summary>
public static class SchemaError
{
    public static ArgumentOutOfRangeException Missing(string column, string expected) =>
        new(nameof(column), $"Input column '{column}' was not found; expected {expected}.");

    public static ArgumentOutOfRangeException WrongType(string column, string expected, DataViewType actual) =>
        new(nameof(column), $"Input column '{column}' has type {actual}; expected {expected}.");

    public static ArgumentOutOfRangeException WrongType(string column, string expected, string actual) =>
        new(nameof(column), $"Input column '{column}' has type {actual}; expected {expected}.");

    /// <summary>Checks that <paramref name="column"/> is a key-typed label with a known number of classes; returns it.</summary>
    public static int CheckKeyLabel(DataViewSchema schema, string column)
    {
        var col = schema.GetColumnOrNull(column) ?? throw Missing(column, "a key-typed label (use mlContext.Transforms.Conversion.MapValueToKey)");
        if (col.Type is not KeyDataViewType key)
            throw WrongType(column, "a key-typed label (use mlContext.Transforms.Conversion.MapValueToKey)", col.Type);
        if (key.Count == 0 || key.Count > int.MaxValue) throw WrongType(column, "a key type with a known number of classes", col.Type);
        if (key.Count < 2) throw new ArgumentOutOfRangeException(nameof(column), $"Label column '{column}' has {key.Count} class; at least 2 are needed.");
        return (int)key.Count;
    }

    /// <summary>Schema-shape version of <see cref="CheckKeyLabel(DataViewSchema, string)"/> for <c>GetOutputSchema</c> (no data).</summary>
    public static void CheckKeyLabel(SchemaShape schema, string column)
    {
        var found = schema.Where(c => c.Name == column).ToList();
        if (found.Count == 0) throw Missing(column, "a key-typed label (use mlContext.Transforms.Conversion.MapValueToKey)");
        var col = found[^1];
        if (!col.IsKey || col.Kind != SchemaShape.Column.VectorKind.Scalar)
            throw WrongType(column, "a scalar key-typed label (use mlContext.Transforms.Conversion.MapValueToKey)", $"{col.Kind} {col.ItemType}{(col.IsKey ? " key" : "")}");
    }
}

using System.Text.Json.Serialization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Core.Data.Binding;

/// <summary>What a bound column is to the model: a feature it reads at serving time, or a training target.</summary>
public enum InputRole
{
    /// <summary>Read by the model in training and serving.</summary>
    Feature,
    /// <summary>Read only in training (and validation); a fitted model applies to data without it.</summary>
    Label,
}

/// <summary>Reads the current row of a cursor into one row of a batch (a per-cursor object).</summary>
public interface IRowReader
{
    /// <summary>Writes the current row into row <paramref name="row"/> of <paramref name="batch"/>; false = skip the row (a missing label).</summary>
    bool Read(HostBatch batch, int row);
}

/// <summary>
/// A typed binding of one IDataView column to named batch slots: checks the column (before any work, naming it and what
/// was expected), resolves its geometry, and reads rows into a <see cref="HostBatch"/>. Specs are records, saved in the
/// model description, so a loaded model binds its inputs exactly as training did. Errors are
/// <see cref="ArgumentOutOfRangeException"/> (schema) or <see cref="InvalidOperationException"/> (data), as ML.NET's own.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(ImageInputSpec), "image")]
[JsonDerivedType(typeof(FloatTensorInputSpec), "float-tensor")]
[JsonDerivedType(typeof(KeyLabelInputSpec), "key-label")]
[JsonDerivedType(typeof(KeyMapInputSpec), "key-map")]
[JsonDerivedType(typeof(MultiHotInputSpec), "multi-hot")]
[JsonDerivedType(typeof(SequenceInputSpec), "sequence")]
[JsonDerivedType(typeof(TokenInputSpec), "tokens")]
[JsonDerivedType(typeof(KeySequenceInputSpec), "key-sequence")]
public abstract record InputSpec(string Column, string Slot)
{
    /// <summary>Feature or label.</summary>
    public InputRole Role { get; init; } = InputRole.Feature;

    /// <summary>What the column must hold, for error messages.</summary>
    [JsonIgnore] public abstract string Expected { get; }

    /// <summary>Checks the column in a schema shape (GetOutputSchema before Fit; no data is read).</summary>
    public virtual void Check(SchemaShape schema)
    {
        var found = schema.Where(c => c.Name == Column).ToList();
        if (found.Count == 0) throw SchemaError.Missing(Column, Expected);
        CheckShape(found[^1]);
    }

    /// <summary>Type check of the column's shape (kind, item type).</summary>
    protected abstract void CheckShape(SchemaShape.Column column);

    /// <summary>
    /// This spec with its geometry taken from (and checked against) <paramref name="schema"/>; a spec resolved before
    /// (e.g. loaded with a model) must find the same geometry. <paramref name="what"/> names the data in errors.
    /// </summary>
    public InputSpec Resolve(DataViewSchema schema, string what = "input data")
    {
        var col = schema.GetColumnOrNull(Column) ?? throw SchemaError.Missing(Column, Expected + (what == "input data" ? "" : $" (in the {what})"));
        return ResolveType(col.Type, what);
    }

    /// <summary>Resolves against the column's type.</summary>
    protected abstract InputSpec ResolveType(DataViewType type, string what);

    /// <summary>The batch slots this spec writes (after <see cref="Resolve"/>).</summary>
    public abstract IEnumerable<(string Name, HostDType DType, long[] RowShape, bool VariableLength)> Buffers();

    /// <summary>A reader over <paramref name="row"/> (which has the column active).</summary>
    public abstract IRowReader CreateReader(DataViewRow row);

    /// <summary>Throws naming the column when two resolved specs disagree (e.g. training vs validation geometry).</summary>
    public void CheckSameGeometry(InputSpec other, string what)
    {
        var a = Buffers().Select(b => $"{b.Name}:{string.Join("×", b.RowShape)}");
        var b2 = other.Buffers().Select(b => $"{b.Name}:{string.Join("×", b.RowShape)}");
        if (!a.SequenceEqual(b2))
            throw new ArgumentOutOfRangeException(nameof(other),
                $"Column '{Column}' of the {what} is {Describe(other)}; the training data is {Describe(this)}.");
    }

    private static string Describe(InputSpec s) => string.Join(", ", s.Buffers().Select(b => string.Join("×", b.RowShape)));
}

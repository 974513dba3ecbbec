using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Core.Data.Binding;

/// <summary>
/// A known-size Vector&lt;Single&gt; read as a float tensor of <see cref="Shape"/> (e.g. a clip T×C×H×W, a depth map
/// H×W). Null shape = the vector's own dimensions. Values must be finite.
/// </summary>
public sealed record FloatTensorInputSpec(string Column, string Slot, long[]? Shape = null) : InputSpec(Column, Slot)
{
    /// <summary>What the shape's dimensions are called in errors, e.g. "T×C×H×W".</summary>
    public string? DimensionNames { get; init; }

    /// <inheritdoc/>
    public override string Expected => Shape != null
        ? $"a known-size Vector<Single> of {DimensionNames ?? "values"} = {string.Join("×", Shape)} = {Shape.Aggregate(1L, (a, b) => a * b)} values"
        : "a known-size Vector<Single>";

    /// <inheritdoc/>
    protected override void CheckShape(SchemaShape.Column c)
    {
        if (!(c.ItemType == NumberDataViewType.Single && c.Kind == SchemaShape.Column.VectorKind.Vector))
            throw SchemaError.WrongType(Column, Expected, $"{c.Kind} {c.ItemType}");
    }

    /// <inheritdoc/>
    protected override InputSpec ResolveType(DataViewType type, string what)
    {
        if (type is not VectorDataViewType { ItemType: NumberDataViewType } vec || vec.ItemType != NumberDataViewType.Single || !vec.IsKnownSize)
            throw SchemaError.WrongType(Column, Expected, type);
        var shape = Shape ?? vec.Dimensions.Select(d => (long)d).ToArray();
        if (shape.Aggregate(1L, (a, b) => a * b) != vec.Size)
            throw new ArgumentOutOfRangeException(nameof(type), $"Column '{Column}' ({what}) has {vec.Size} values per row; expected {Expected}.");
        return this with { Shape = shape };
    }

    /// <inheritdoc/>
    public override IEnumerable<(string, HostDType, long[], bool)> Buffers()
    {
        yield return (Slot, HostDType.Float32, Shape ?? throw new InvalidOperationException($"Input '{Column}' is not resolved."), false);
    }

    /// <inheritdoc/>
    public override IRowReader CreateReader(DataViewRow row) => new Reader(this, row);

    private sealed class Reader : IRowReader
    {
        private readonly FloatTensorInputSpec _s;
        private readonly ValueGetter<VBuffer<float>> _get;
        private VBuffer<float> _buf;
        public Reader(FloatTensorInputSpec s, DataViewRow row) { _s = s; _get = row.GetGetter<VBuffer<float>>(row.Schema[s.Column]); }
        public bool Read(HostBatch batch, int row)
        {
            _get(ref _buf);
            var dst = batch[_s.Slot].FloatRow(row);
            _buf.CopyTo(dst);
            foreach (var v in dst)
                if (!float.IsFinite(v)) throw new InvalidOperationException($"Column '{_s.Column}' contains NaN or infinity; values must be finite.");
            return true;
        }
    }
}

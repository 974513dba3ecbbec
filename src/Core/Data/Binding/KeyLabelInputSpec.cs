using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Core.Data.Binding;

/// <summary>
/// A scalar key label read as an int64 class index (key − 1). A missing key (0) skips the row and is counted
/// (<see cref="BatchStreamer.SkippedMissingLabels"/>); the trainer decides whether that is an error.
/// </summary>
public sealed record KeyLabelInputSpec(string Column, string Slot) : InputSpec(Column, Slot)
{
    /// <summary>Classes (the key count), set by resolving.</summary>
    public int Classes { get; init; }

    /// <inheritdoc/>
    public override string Expected => "a key-typed label (use mlContext.Transforms.Conversion.MapValueToKey)";

    /// <inheritdoc/>
    protected override void CheckShape(SchemaShape.Column c)
    {
        if (!c.IsKey || c.Kind != SchemaShape.Column.VectorKind.Scalar)
            throw SchemaError.WrongType(Column, "a scalar key-typed label (use mlContext.Transforms.Conversion.MapValueToKey)", $"{c.Kind} {c.ItemType}{(c.IsKey ? " key" : "")}");
    }

    /// <inheritdoc/>
    protected override InputSpec ResolveType(DataViewType type, string what)
    {
        if (type is not KeyDataViewType key || key.RawType != typeof(uint)) throw SchemaError.WrongType(Column, Expected, type);
        if (key.Count == 0 || key.Count > int.MaxValue) throw SchemaError.WrongType(Column, "a key type with a known number of classes", type);
        if (key.Count < 2) throw new ArgumentOutOfRangeException(nameof(type), $"Label column '{Column}' has {key.Count} class; at least 2 are needed.");
        if (Classes != 0 && Classes != (int)key.Count)
            throw new ArgumentOutOfRangeException(nameof(type), $"Label column '{Column}' of the {what} has {key.Count} classes; the training data has {Classes}.");
        return this with { Classes = (int)key.Count };
    }

    /// <inheritdoc/>
    public override IEnumerable<(string, HostDType, long[], bool)> Buffers()
    {
        yield return (Slot, HostDType.Int64, Array.Empty<long>(), false);
    }

    /// <inheritdoc/>
    public override IRowReader CreateReader(DataViewRow row) => new Reader(Slot, row.GetGetter<uint>(row.Schema[Column]));

    private sealed class Reader : IRowReader
    {
        private readonly string _slot;
        private readonly ValueGetter<uint> _get;
        private uint _key;
        public Reader(string slot, ValueGetter<uint> get) { _slot = slot; _get = get; }
        public bool Read(HostBatch batch, int row)
        {
            _get(ref _key);
            if (_key == 0) return false;
            batch[_slot].Longs![row] = _key - 1L;
            return true;
        }
    }
}

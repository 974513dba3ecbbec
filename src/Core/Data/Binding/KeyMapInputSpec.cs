using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Core.Data.Binding;

/// <summary>
/// A per-position key map (e.g. a segmentation mask): a known-size Vector&lt;Key&lt;UInt32&gt;&gt; read as int64 class
/// indices (key − 1); a missing key (0) becomes <see cref="IgnoreIndex"/> (mmseg's 255).
/// </summary>
public sealed record KeyMapInputSpec(string Column, string Slot) : InputSpec(Column, Slot)
{
    /// <summary>Positions per row (e.g. H·W), checked when set, else from the type.</summary>
    public int Positions { get; init; }
    /// <summary>Classes (the key count), set by resolving.</summary>
    public int Classes { get; init; }
    /// <summary>Largest class count accepted (the ignore index must stay free). Default 255.</summary>
    public int MaxClasses { get; init; } = 255;
    /// <summary>Index written for a missing key. Default 255.</summary>
    public long IgnoreIndex { get; init; } = 255;
    /// <summary>How the positions are described in errors (e.g. "64×64").</summary>
    public string? PositionsText { get; init; }

    /// <inheritdoc/>
    public override string Expected => Positions > 0
        ? $"a known-size Vector<Key<UInt32>> of {PositionsText ?? Positions.ToString()}{(PositionsText != null ? $" = {Positions}" : "")} positions (a per-position class map)"
        : "a known-size Vector<Key<UInt32>> (a per-position class map)";

    /// <inheritdoc/>
    protected override void CheckShape(SchemaShape.Column c)
    {
        if (!c.IsKey || c.Kind != SchemaShape.Column.VectorKind.Vector)
            throw SchemaError.WrongType(Column, Expected, $"{c.Kind} {c.ItemType}{(c.IsKey ? " key" : "")}");
    }

    /// <inheritdoc/>
    protected override InputSpec ResolveType(DataViewType type, string what)
    {
        if (type is not VectorDataViewType { ItemType: KeyDataViewType key } vec || !vec.IsKnownSize || key.RawType != typeof(uint))
            throw SchemaError.WrongType(Column, Expected, type);
        if (Positions > 0 && vec.Size != Positions)
            throw new ArgumentOutOfRangeException(nameof(type), $"Label column '{Column}' has {vec.Size} positions but {Expected} is needed ({what}).");
        if (key.Count < 2 || key.Count > (ulong)MaxClasses)
            throw new ArgumentOutOfRangeException(nameof(type), $"Label column '{Column}' has {key.Count} classes; 2–{MaxClasses} are supported ({IgnoreIndex} is the ignore index).");
        if (Classes != 0 && Classes != (int)key.Count)
            throw new ArgumentOutOfRangeException(nameof(type), $"Label column '{Column}' of the {what} has {key.Count} classes; the training data has {Classes}.");
        return this with { Positions = vec.Size, Classes = (int)key.Count };
    }

    /// <inheritdoc/>
    public override IEnumerable<(string, HostDType, long[], bool)> Buffers()
    {
        yield return (Slot, HostDType.Int64, new long[] { Positions }, false);
    }

    /// <inheritdoc/>
    public override IRowReader CreateReader(DataViewRow row) => new Reader(this, row.GetGetter<VBuffer<uint>>(row.Schema[Column]));

    private sealed class Reader : IRowReader
    {
        private readonly KeyMapInputSpec _s;
        private readonly ValueGetter<VBuffer<uint>> _get;
        private VBuffer<uint> _buf;
        public Reader(KeyMapInputSpec s, ValueGetter<VBuffer<uint>> get) { _s = s; _get = get; }
        public bool Read(HostBatch batch, int row)
        {
            _get(ref _buf);
            var dst = batch[_s.Slot].LongRow(row);
            dst.Fill(_s.IgnoreIndex);
            var vals = _buf.GetValues();
            var idx = _buf.GetIndices();
            for (int i = 0; i < vals.Length; i++)
                if (vals[i] != 0) dst[_buf.IsDense ? i : idx[i]] = vals[i] - 1L;
            return true;
        }
    }
}

using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Core.Data.Binding;

/// <summary>
/// A variable-length list of classes (e.g. the class of each target segment of a video): a Vector&lt;Key&lt;UInt32&gt;&gt;
/// of any length, read as int64 class indices (key − 1) padded to <see cref="MaxLength"/>, with the row's count in the
/// slot's lengths. An empty row is valid (length 0); a missing key (0) fails naming the column.
/// </summary>
public sealed record KeySequenceInputSpec(string Column, string Slot, int MaxLength) : InputSpec(Column, Slot)
{
    /// <summary>Classes (the key count), set by resolving.</summary>
    public int Classes { get; init; }

    /// <inheritdoc/>
    public override string Expected => $"a Vector<Key<UInt32>> of at most {MaxLength} classes";

    /// <inheritdoc/>
    protected override void CheckShape(SchemaShape.Column c)
    {
        if (!c.IsKey || c.Kind == SchemaShape.Column.VectorKind.Scalar)
            throw SchemaError.WrongType(Column, Expected, $"{c.Kind} {c.ItemType}{(c.IsKey ? " key" : "")}");
    }

    /// <inheritdoc/>
    protected override InputSpec ResolveType(DataViewType type, string what)
    {
        if (MaxLength < 1) throw new ArgumentOutOfRangeException(nameof(MaxLength), $"Key sequence input '{Column}' needs MaxLength ≥ 1.");
        if (type is not VectorDataViewType { ItemType: KeyDataViewType key } || key.RawType != typeof(uint) || key.Count < 1 || key.Count > int.MaxValue)
            throw SchemaError.WrongType(Column, Expected, type);
        if (Classes != 0 && Classes != (int)key.Count)
            throw new ArgumentOutOfRangeException(nameof(type), $"Column '{Column}' of the {what} has {key.Count} classes; the training data has {Classes}.");
        return this with { Classes = (int)key.Count };
    }

    /// <inheritdoc/>
    public override IEnumerable<(string, HostDType, long[], bool)> Buffers()
    {
        yield return (Slot, HostDType.Int64, new long[] { MaxLength }, true);
    }

    /// <inheritdoc/>
    public override IRowReader CreateReader(DataViewRow row) => new Reader(this, row.GetGetter<VBuffer<uint>>(row.Schema[Column]));

    private sealed class Reader : IRowReader
    {
        private readonly KeySequenceInputSpec _s; private readonly ValueGetter<VBuffer<uint>> _get; private VBuffer<uint> _buf;
        public Reader(KeySequenceInputSpec s, ValueGetter<VBuffer<uint>> get) { _s = s; _get = get; }
        public bool Read(HostBatch batch, int row)
        {
            _get(ref _buf);
            if (_buf.Length > _s.MaxLength)
                throw new InvalidOperationException($"Column '{_s.Column}': a row has {_buf.Length} classes; MaxLength is {_s.MaxLength}.");
            var buffer = batch[_s.Slot];
            var dst = buffer.LongRow(row);
            dst.Clear();
            int i = 0;
            foreach (var k in _buf.DenseValues())
            {
                if (k == 0) throw new InvalidOperationException($"Column '{_s.Column}': a row has a missing class key at position {i}.");
                dst[i++] = k - 1L;
            }
            buffer.Lengths![row] = i;
            return true;
        }
    }
}

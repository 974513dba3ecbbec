using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Core.Data.Binding;

/// <summary>
/// A multi-label target read as a float multi-hot vector of <see cref="Classes"/>: either a Vector&lt;Key&lt;UInt32&gt;&gt;
/// (any length: the row's classes; missing keys ignored) or a known-size Vector&lt;Single&gt;/Vector&lt;Boolean&gt; of K
/// (non-zero = present). A row with no class skips unless <see cref="AllowEmpty"/>.
/// </summary>
public sealed record MultiHotInputSpec(string Column, string Slot) : InputSpec(Column, Slot)
{
    /// <summary>Classes K (from the key count or the vector size).</summary>
    public int Classes { get; init; }
    /// <summary>Whether a row without any class is kept (all zeros). Default false (skipped and counted, as a missing label).</summary>
    public bool AllowEmpty { get; init; }
    /// <summary>True when the column is a key vector (else a 0/1 vector), set by resolving.</summary>
    public bool IsKeys { get; init; }

    /// <inheritdoc/>
    public override string Expected => "a Vector<Key<UInt32>> of the row's classes, or a known-size Vector<Single>/Vector<Boolean> of K 0/1 values";

    /// <inheritdoc/>
    protected override void CheckShape(SchemaShape.Column c)
    {
        bool ok = c.Kind != SchemaShape.Column.VectorKind.Scalar && (c.IsKey || c.ItemType == NumberDataViewType.Single || c.ItemType == BooleanDataViewType.Instance);
        if (!ok) throw SchemaError.WrongType(Column, Expected, $"{c.Kind} {c.ItemType}{(c.IsKey ? " key" : "")}");
    }

    /// <inheritdoc/>
    protected override InputSpec ResolveType(DataViewType type, string what)
    {
        if (type is VectorDataViewType { ItemType: KeyDataViewType key } && key.RawType == typeof(uint) && key.Count >= 1 && key.Count <= int.MaxValue)
            return Checked(this with { Classes = (int)key.Count, IsKeys = true }, what, type);
        if (type is VectorDataViewType vec && vec.IsKnownSize && (vec.ItemType == NumberDataViewType.Single || vec.ItemType == BooleanDataViewType.Instance))
            return Checked(this with { Classes = vec.Size, IsKeys = false }, what, type);
        throw SchemaError.WrongType(Column, Expected, type);
    }

    private InputSpec Checked(MultiHotInputSpec r, string what, DataViewType type)
    {
        if (Classes != 0 && Classes != r.Classes)
            throw new ArgumentOutOfRangeException(nameof(type), $"Column '{Column}' of the {what} has {r.Classes} classes; the training data has {Classes}.");
        return r;
    }

    /// <inheritdoc/>
    public override IEnumerable<(string, HostDType, long[], bool)> Buffers()
    {
        yield return (Slot, HostDType.Float32, new long[] { Classes }, false);
    }

    /// <inheritdoc/>
    public override IRowReader CreateReader(DataViewRow row) => IsKeys
        ? new KeysReader(this, row.GetGetter<VBuffer<uint>>(row.Schema[Column]))
        : (row.Schema[Column].Type as VectorDataViewType)?.ItemType == BooleanDataViewType.Instance
            ? new FlagsReader<bool>(this, row.GetGetter<VBuffer<bool>>(row.Schema[Column]), b => b)
            : new FlagsReader<float>(this, row.GetGetter<VBuffer<float>>(row.Schema[Column]), v => FloatPresent(this, v));

    private sealed class KeysReader : IRowReader
    {
        private readonly MultiHotInputSpec _s; private readonly ValueGetter<VBuffer<uint>> _get; private VBuffer<uint> _buf;
        public KeysReader(MultiHotInputSpec s, ValueGetter<VBuffer<uint>> get) { _s = s; _get = get; }
        public bool Read(HostBatch batch, int row)
        {
            _get(ref _buf);
            var dst = batch[_s.Slot].FloatRow(row);
            dst.Clear();
            bool any = false;
            foreach (var k in _buf.GetValues()) if (k != 0) { dst[(int)k - 1] = 1f; any = true; }
            return any || _s.AllowEmpty;
        }
    }

    /// <summary>A 0/1 vector (floats or booleans): non-zero = the class is present.</summary>
    private sealed class FlagsReader<T> : IRowReader
    {
        private readonly MultiHotInputSpec _s; private readonly ValueGetter<VBuffer<T>> _get; private readonly Func<T, bool> _present; private VBuffer<T> _buf;
        public FlagsReader(MultiHotInputSpec s, ValueGetter<VBuffer<T>> get, Func<T, bool> present) { _s = s; _get = get; _present = present; }
        public bool Read(HostBatch batch, int row)
        {
            _get(ref _buf);
            var dst = batch[_s.Slot].FloatRow(row);
            dst.Clear();
            bool any = false;
            var vals = _buf.GetValues(); var idx = _buf.GetIndices();
            for (int i = 0; i < vals.Length; i++)
                if (_present(vals[i])) { dst[_buf.IsDense ? i : idx[i]] = 1f; any = true; }
            return any || _s.AllowEmpty;
        }
    }

    // Only 0 and 1: a float vector that is not a label (e.g. features copied under the label's name) fails here, naming the column.
    private static bool FloatPresent(MultiHotInputSpec s, float v) => v == 0 ? false : v == 1 ? true
        : throw new InvalidOperationException($"Column '{s.Column}' holds {v}; a multi-hot label holds 0/1 values.");
}

using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Core.Data.Binding;

/// <summary>
/// A variable-length sequence of feature vectors (e.g. snippet features of a video): a Vector&lt;Single&gt; of any length
/// T·D, read as T rows of <see cref="FeatureSize"/> floats, zero-padded to <see cref="MaxLength"/> with the row's T in the
/// slot's lengths (<see cref="HostBatch.LengthsSuffix"/>). A row longer than MaxLength fails, naming the column, unless
/// <see cref="Truncate"/> keeps its first MaxLength steps.
/// </summary>
public sealed record SequenceInputSpec(string Column, string Slot, int FeatureSize, int MaxLength) : InputSpec(Column, Slot)
{
    /// <summary>Keep the first <see cref="MaxLength"/> steps of a longer row instead of failing. Default false.</summary>
    public bool Truncate { get; init; }
    /// <summary>Accept a row with no steps (length 0, e.g. a video without target segments) instead of failing. Default false.</summary>
    public bool AllowEmpty { get; init; }

    /// <inheritdoc/>
    public override string Expected => $"a Vector<Single> of T×{FeatureSize} values (T ≤ {MaxLength} steps of {FeatureSize} features)";

    /// <inheritdoc/>
    protected override void CheckShape(SchemaShape.Column c)
    {
        if (!(c.ItemType == NumberDataViewType.Single && c.Kind != SchemaShape.Column.VectorKind.Scalar))
            throw SchemaError.WrongType(Column, Expected, $"{c.Kind} {c.ItemType}");
    }

    /// <inheritdoc/>
    protected override InputSpec ResolveType(DataViewType type, string what)
    {
        if (FeatureSize < 1 || MaxLength < 1) throw new ArgumentOutOfRangeException(nameof(FeatureSize), $"Sequence input '{Column}' needs FeatureSize ≥ 1 and MaxLength ≥ 1.");
        if (type is not VectorDataViewType vec || vec.ItemType != NumberDataViewType.Single) throw SchemaError.WrongType(Column, Expected, type);
        if (vec.IsKnownSize && vec.Size % FeatureSize != 0)
            throw new ArgumentOutOfRangeException(nameof(type), $"Column '{Column}' ({what}) has {vec.Size} values per row, not a multiple of the feature size {FeatureSize}.");
        return this;
    }

    /// <inheritdoc/>
    public override IEnumerable<(string, HostDType, long[], bool)> Buffers()
    {
        yield return (Slot, HostDType.Float32, new long[] { MaxLength, FeatureSize }, true);
    }

    /// <inheritdoc/>
    public override IRowReader CreateReader(DataViewRow row) => new Reader(this, row.GetGetter<VBuffer<float>>(row.Schema[Column]));

    private sealed class Reader : IRowReader
    {
        private readonly SequenceInputSpec _s; private readonly ValueGetter<VBuffer<float>> _get; private VBuffer<float> _buf;
        public Reader(SequenceInputSpec s, ValueGetter<VBuffer<float>> get) { _s = s; _get = get; }
        public bool Read(HostBatch batch, int row)
        {
            _get(ref _buf);
            if (_buf.Length % _s.FeatureSize != 0)
                throw new InvalidOperationException($"Column '{_s.Column}': a row has {_buf.Length} values, not a multiple of the feature size {_s.FeatureSize}.");
            int t = _buf.Length / _s.FeatureSize;
            if (t == 0 && !_s.AllowEmpty) throw new InvalidOperationException($"Column '{_s.Column}': a row has an empty sequence.");
            if (t > _s.MaxLength && !_s.Truncate)
                throw new InvalidOperationException($"Column '{_s.Column}': a row has {t} steps; MaxLength is {_s.MaxLength} (raise it, or set Truncate to keep the first {_s.MaxLength}).");
            t = Math.Min(t, _s.MaxLength);
            var buffer = batch[_s.Slot];
            var dst = buffer.FloatRow(row);
            dst.Clear();
            var dense = _buf.DenseValues().Take(t * _s.FeatureSize).ToArray();
            foreach (var v in dense) if (!float.IsFinite(v)) throw new InvalidOperationException($"Column '{_s.Column}' contains NaN or infinity.");
            dense.CopyTo(dst);
            buffer.Lengths![row] = t;
            return true;
        }
    }
}

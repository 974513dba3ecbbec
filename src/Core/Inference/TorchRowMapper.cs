using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Data.Binding;

namespace MLNetExtensions.Core.Inference;

/// <summary>The PredictionEngine path of <see cref="TorchTransformerBase"/>: one forward per row, cached by row position.</summary>
internal sealed class TorchRowMapper : IRowToRowMapper
{
    private readonly TorchTransformerBase _parent;
    private readonly IReadOnlyList<InputSpec> _inputs;

    public TorchRowMapper(TorchTransformerBase parent, DataViewSchema input)
    {
        _parent = parent; InputSchema = input; OutputSchema = parent.GetOutputSchema(input);
        _inputs = parent.Bind(input);
    }

    public DataViewSchema InputSchema { get; }
    public DataViewSchema OutputSchema { get; }

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns) =>
        AppendedColumns.Dependencies(InputSchema, dependingColumns, _inputs.Select(i => i.Column).Distinct().ToArray());

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns) =>
        new MappedRow(this, input, activeColumns.Select(c => c.Index).ToHashSet());

    private sealed class MappedRow : DataViewRow
    {
        private readonly TorchRowMapper _m;
        private readonly DataViewRow _input;
        private readonly HashSet<int> _active;
        private readonly IRowReader[]? _readers;
        private readonly HostBatch? _batch;
        private long _cachedPos = -1;
        private object[][] _out = Array.Empty<object[]>();

        public MappedRow(TorchRowMapper m, DataViewRow input, HashSet<int> active)
        {
            _m = m; _input = input; _active = active;
            if (active.Any(i => i >= m.InputSchema.Count))
            {
                _readers = m._inputs.Select(s => s.CreateReader(input)).ToArray();
                _batch = new HostBatch(m._inputs.SelectMany(s => s.Buffers()), 1);
            }
        }

        public override DataViewSchema Schema => _m.OutputSchema;
        public override long Position => _input.Position;
        public override long Batch => _input.Batch;
        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();
        public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);

        private object Current(int output)
        {
            if (_cachedPos != _input.Position || _cachedPos < 0)
            {
                foreach (var r in _readers!) r.Read(_batch!, 0);
                _batch!.Count = 1;
                _out = _m._parent.Score(_batch, _m._inputs);
                _cachedPos = _input.Position;
            }
            return _out[output][0];
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            int n = _m.InputSchema.Count;
            if (column.Index < n) return _input.GetGetter<TValue>(_m.InputSchema[column.Index]);
            int o = column.Index - n;
            return OutputGetters.Make<TValue>(_m._parent.OutputColumns[o].Spec, () => Current(o));
        }
    }
}

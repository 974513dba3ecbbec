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

    private sealed class MappedRow : AppendedColumnsRow
    {
        private readonly TorchRowMapper _m;
        private readonly IRowReader[]? _readers;
        private readonly HostBatch? _batch;
        private long _cachedPos = -1;
        private object[][] _out = Array.Empty<object[]>();

        public MappedRow(TorchRowMapper m, DataViewRow input, HashSet<int> active) : base(m.OutputSchema, m.InputSchema, input, active)
        {
            _m = m;
            if (AnyOutputActive)
            {
                _readers = m._inputs.Select(s => s.CreateReader(input)).ToArray();
                _batch = new HostBatch(m._inputs.SelectMany(s => s.Buffers()), 1);
            }
        }

        private object Current(int output)
        {
            if (_cachedPos != Input.Position || _cachedPos < 0)
            {
                foreach (var r in _readers!) r.Read(_batch!, 0);
                _batch!.Count = 1;
                _out = _m._parent.Score(_batch, _m._inputs);
                _cachedPos = Input.Position;
            }
            return _out[output][0];
        }

        protected override ValueGetter<TValue> GetOutputGetter<TValue>(DataViewSchema.Column column, int output) =>
            OutputGetters.Make<TValue>(_m._parent.OutputColumns[output].Spec, () => Current(output));
    }
}

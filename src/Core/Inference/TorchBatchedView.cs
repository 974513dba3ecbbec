using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Data.Binding;

namespace MLNetExtensions.Core.Inference;

/// <summary>The Transform path of <see cref="TorchTransformerBase"/>: a lazy view scoring InferenceBatchSize rows per forward.</summary>
internal sealed class TorchBatchedView : IDataView
{
    private readonly TorchTransformerBase _parent;
    private readonly IDataView _input;
    private readonly IReadOnlyList<InputSpec> _inputs;

    public TorchBatchedView(TorchTransformerBase parent, IDataView input)
    {
        _parent = parent; _input = input;
        Schema = parent.GetOutputSchema(input.Schema);
        _inputs = parent.Bind(input.Schema);
    }

    public bool CanShuffle => false;
    public DataViewSchema Schema { get; }
    public long? GetRowCount() => _input.GetRowCount();

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        new[] { GetRowCursor(columnsNeeded, rand) };

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        int n = _input.Schema.Count;
        var needed = columnsNeeded.ToList();
        var passthrough = needed.Where(c => c.Index < n).Select(c => _input.Schema[c.Index]).ToList();
        bool needModel = needed.Any(c => c.Index >= n);
        // The follower cursor serves pass-through columns row by row; the lead cursor (same order, no shuffle) reads
        // ahead a batch of model inputs. Views return the same rows each time they are cursored.
        var follower = _input.GetRowCursor(passthrough);
        var lead = needModel ? _input.GetRowCursor(_inputs.Select(i => i.Column).Distinct().Select(c => _input.Schema[c])) : null;
        return new Cursor(this, follower, lead, needed.Select(c => c.Index).ToHashSet());
    }

    private sealed class Cursor : AppendedColumnsCursor
    {
        private readonly TorchBatchedView _v;
        private readonly DataViewRowCursor? _lead;
        private readonly IRowReader[]? _readers;
        private readonly HostBatch? _batch;
        private object[][] _out = Array.Empty<object[]>();
        private int _rowInBatch = -1, _rowsInBatch;

        public Cursor(TorchBatchedView v, DataViewRowCursor follower, DataViewRowCursor? lead, HashSet<int> active)
            : base(v.Schema, v._input.Schema, follower, active)
        {
            _v = v; _lead = lead;
            if (lead != null)
            {
                _readers = v._inputs.Select(s => s.CreateReader(lead)).ToArray();
                _batch = new HostBatch(v._inputs.SelectMany(s => s.Buffers()), v._parent.InferenceBatchSize);
            }
        }

        protected override void OnMoved()
        {
            if (_lead == null || ++_rowInBatch < _rowsInBatch) return;
            int rows = 0, cap = _batch!.Capacity;
            while (rows < cap && _lead.MoveNext()) { foreach (var r in _readers!) r.Read(_batch, rows); rows++; }
            if (rows == 0) throw new InvalidOperationException("Input view returned fewer rows on the second cursor; it must be deterministic.");
            _batch.Count = rows;
            _out = _v._parent.Score(_batch, _v._inputs);
            _rowsInBatch = rows; _rowInBatch = 0;
        }

        protected override ValueGetter<TValue> GetOutputGetter<TValue>(DataViewSchema.Column column, int output) =>
            OutputGetters.Make<TValue>(_v._parent.OutputColumns[output].Spec, () => _out[output][_rowInBatch]);

        protected override void Dispose(bool disposing)
        {
            if (disposing) _lead?.Dispose();
            base.Dispose(disposing);
        }
    }
}

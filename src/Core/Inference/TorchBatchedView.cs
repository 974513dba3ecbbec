using Microsoft.ML;
using Microsoft.ML.Data;
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

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly TorchBatchedView _v;
        private readonly DataViewRowCursor _follower;
        private readonly DataViewRowCursor? _lead;
        private readonly IRowReader[]? _readers;
        private readonly HostBatch? _batch;
        private readonly HashSet<int> _active;
        private object[][] _out = Array.Empty<object[]>();
        private int _rowInBatch = -1, _rowsInBatch;

        public Cursor(TorchBatchedView v, DataViewRowCursor follower, DataViewRowCursor? lead, HashSet<int> active)
        {
            _v = v; _follower = follower; _lead = lead; _active = active;
            if (lead != null)
            {
                _readers = v._inputs.Select(s => s.CreateReader(lead)).ToArray();
                _batch = new HostBatch(v._inputs.SelectMany(s => s.Buffers()), v._parent.InferenceBatchSize);
            }
        }

        public override DataViewSchema Schema => _v.Schema;
        public override long Position => _follower.Position;
        public override long Batch => _follower.Batch;
        public override ValueGetter<DataViewRowId> GetIdGetter() => _follower.GetIdGetter();
        public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);

        public override bool MoveNext()
        {
            if (!_follower.MoveNext()) return false;
            if (_lead != null && ++_rowInBatch >= _rowsInBatch)
            {
                int rows = 0, cap = _batch!.Capacity;
                while (rows < cap && _lead.MoveNext()) { foreach (var r in _readers!) r.Read(_batch, rows); rows++; }
                if (rows == 0) throw new InvalidOperationException("Input view returned fewer rows on the second cursor; it must be deterministic.");
                _batch.Count = rows;
                _out = _v._parent.Score(_batch, _v._inputs);
                _rowsInBatch = rows; _rowInBatch = 0;
            }
            return true;
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            int n = _v._input.Schema.Count;
            if (column.Index < n) return _follower.GetGetter<TValue>(_v._input.Schema[column.Index]);
            int o = column.Index - n;
            return OutputGetters.Make<TValue>(_v._parent.OutputColumns[o].Spec, () => _out[o][_rowInBatch]);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) { _follower.Dispose(); _lead?.Dispose(); }
            base.Dispose(disposing);
        }
    }
}

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
        // Two host batches: while one is scored on the cursor's thread, the next is read from the lead cursor on a
        // pool thread (when PrefetchInputs is on), so the input pipeline's work (image decode/resize, pixel
        // conversion) overlaps the forward instead of adding to it.
        private readonly HostBatch[] _batches = [];
        private Task<int>? _pending;
        private int _next;
        private object[][] _out = Array.Empty<object[]>();
        private int _rowInBatch = -1, _rowsInBatch;

        public Cursor(TorchBatchedView v, DataViewRowCursor follower, DataViewRowCursor? lead, HashSet<int> active)
            : base(v.Schema, v._input.Schema, follower, active)
        {
            _v = v; _lead = lead;
            if (lead != null)
            {
                _readers = v._inputs.Select(s => s.CreateReader(lead)).ToArray();
                int copies = v._parent.PrefetchInputs ? 2 : 1;
                _batches = Enumerable.Range(0, copies)
                    .Select(_ => new HostBatch(v._inputs.SelectMany(s => s.Buffers()), v._parent.InferenceBatchSize)).ToArray();
            }
        }

        private int Fill(HostBatch batch)
        {
            int rows = 0, cap = batch.Capacity;
            while (rows < cap && _lead!.MoveNext()) { foreach (var r in _readers!) r.Read(batch, rows); rows++; }
            batch.Count = rows;
            return rows;
        }

        protected override void OnMoved()
        {
            if (_lead == null || ++_rowInBatch < _rowsInBatch) return;
            var batch = _batches[_next];
            // GetAwaiter().GetResult() rethrows the reader's own exception, not an AggregateException.
            int rows = _pending != null ? _pending.GetAwaiter().GetResult() : Fill(batch);
            _pending = null;
            if (rows == 0) throw new InvalidOperationException("Input view returned fewer rows on the second cursor; it must be deterministic.");
            if (_batches.Length > 1 && rows == batch.Capacity)
            {
                _next ^= 1;
                var other = _batches[_next];
                _pending = Task.Run(() => Fill(other));
            }
            try { _out = _v._parent.Score(batch, _v._inputs); }
            catch { DrainPending(); throw; }
            _rowsInBatch = rows; _rowInBatch = 0;
        }

        private void DrainPending()
        {
            try { _pending?.Wait(); } catch (AggregateException) { } // the scoring error is the one to report
            _pending = null;
        }

        protected override ValueGetter<TValue> GetOutputGetter<TValue>(DataViewSchema.Column column, int output) =>
            OutputGetters.Make<TValue>(_v._parent.OutputColumns[output].Spec, () => _out[output][_rowInBatch]);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                DrainPending(); // the reader must stop using the lead cursor before it is disposed
                _lead?.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}

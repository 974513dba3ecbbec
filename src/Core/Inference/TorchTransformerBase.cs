using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Inference;

/// <summary>How one output column is derived from a row of the model's output (a float vector per row).</summary>
public enum OutputKind
{
    /// <summary>The row's floats as a known-size <c>Vector&lt;Single&gt;</c>.</summary>
    Scores,
    /// <summary>Key = argmax + 1 over the row's floats (a scalar key, e.g. PredictedLabel).</summary>
    ArgmaxKey,
    /// <summary>Per-position keys: the row is Classes × Positions, output Vector&lt;Key&gt; of Positions (e.g. a segmentation map).</summary>
    ArgmaxKeyMap,
}

/// <summary>An output column of a <see cref="TorchTransformerBase"/>.</summary>
public sealed record TorchOutputColumn(string Name, OutputKind Kind, DataViewType Type, DataViewSchema.Annotations Annotations, int Classes = 0);

/// <summary>
/// Shared inference machinery for TorchSharp-backed transformers: output schema, a lazy batched <c>Transform</c>
/// (reads <see cref="InferenceBatchSize"/> rows ahead, one forward per batch), a row-to-row mapper for
/// <c>PredictionEngine</c> (one forward per row, shared by all output getters), eval mode + inference mode on the
/// calling thread, bounded concurrent forwards, and disposal of the native module.
/// </summary>
public abstract class TorchTransformerBase : ITransformer, IDisposable
{
    private readonly SemaphoreSlim _gate;
    private bool _disposed;

    protected TorchTransformerBase(IHostEnvironment env, string name, nn.Module model, Device device, int inferenceBatchSize)
    {
        Host = env.Register(name);
        MLNetExtensions.Core.Torch.ConvolutionBackend.EnsureCorrect();
        Model = model;
        Device = device;
        InferenceBatchSize = inferenceBatchSize;
        Model.eval();
        _gate = new SemaphoreSlim(Math.Max(1, Environment.ProcessorCount));
    }

    protected IHost Host { get; }
    /// <summary>The served module (eval mode).</summary>
    public nn.Module Model { get; }
    /// <summary>Device the module lives on.</summary>
    public Device Device { get; }
    /// <summary>Rows per forward in <see cref="Transform"/>.</summary>
    public int InferenceBatchSize { get; set; }

    /// <summary>The input column read by the model.</summary>
    protected abstract string InputColumnName { get; }
    /// <summary>Checks the input column's type and returns the per-row filler factory and the tensor shape of one row.</summary>
    protected abstract (Func<DataViewRow, IRowFiller> Filler, long[] RowShape) BindInput(DataViewSchema inputSchema);
    /// <summary>Output columns, in order.</summary>
    protected abstract IReadOnlyList<TorchOutputColumn> OutputColumns { get; }
    /// <summary>Runs the model on a (B, …) batch already on <see cref="Device"/>; returns (B, width) floats (e.g. probabilities).</summary>
    protected abstract Tensor Forward(Tensor batch);

    public bool IsRowToRowMapper => true;

    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        BindInput(inputSchema);
        var b = new DataViewSchema.Builder();
        b.AddColumns(inputSchema);
        foreach (var c in OutputColumns) b.AddColumn(c.Name, c.Type, c.Annotations);
        return b.ToSchema();
    }

    public IDataView Transform(IDataView input) => new BatchedView(this, input);

    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => new RowMapper(this, inputSchema);

    void ICanSaveModel.Save(ModelSaveContext ctx) => SaveModel(ctx);

    /// <summary>Writes the model into ML.NET's model zip (see <see cref="Interop.MLNetInternals"/>).</summary>
    protected abstract void SaveModel(ModelSaveContext ctx);

    /// <summary>Scores <paramref name="rows"/> rows held in <paramref name="buffer"/>; returns per row its output floats.</summary>
    internal float[] Score(float[] buffer, int rows, long[] rowShape, out int width)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _gate.Wait();
        try
        {
            using var scope = torch.NewDisposeScope();
            using var mode = torch.inference_mode();
            var shape = new long[rowShape.Length + 1];
            shape[0] = rows;
            rowShape.CopyTo(shape, 1);
            var x = torch.tensor(buffer.AsSpan(0, (int)(rows * rowShape.Aggregate(1L, (a, b) => a * b))).ToArray(), shape).to(Device);
            var y = Forward(x).to(torch.float32).cpu().contiguous();
            width = (int)(y.numel() / rows);
            return y.data<float>().ToArray();
        }
        finally { _gate.Release(); }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Model.Dispose();
        _gate.Dispose();
        GC.SuppressFinalize(this);
    }

    // ---- getters over a row's output ----------------------------------------------------------------------------
    internal Delegate MakeGetter(TorchOutputColumn col, Func<(float[] Data, int Offset, int Width)> current)
    {
        switch (col.Kind)
        {
            case OutputKind.Scores:
                return (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
                {
                    var (data, off, w) = current();
                    var editor = VBufferEditor.Create(ref dst, w);
                    data.AsSpan(off, w).CopyTo(editor.Values);
                    dst = editor.Commit();
                });
            case OutputKind.ArgmaxKey:
                return (ValueGetter<uint>)((ref uint dst) =>
                {
                    var (data, off, w) = current();
                    dst = (uint)ArgMax(data.AsSpan(off, w)) + 1;
                });
            case OutputKind.ArgmaxKeyMap:
                return (ValueGetter<VBuffer<uint>>)((ref VBuffer<uint> dst) =>
                {
                    var (data, off, w) = current();
                    int classes = col.Classes, positions = w / classes;
                    var editor = VBufferEditor.Create(ref dst, positions);
                    for (int p = 0; p < positions; p++)
                    {
                        int best = 0; float bv = float.NegativeInfinity;
                        for (int c = 0; c < classes; c++) { var v = data[off + c * positions + p]; if (v > bv) { bv = v; best = c; } }
                        editor.Values[p] = (uint)best + 1;
                    }
                    dst = editor.Commit();
                });
            default: throw new NotSupportedException(col.Kind.ToString());
        }
    }

    private static int ArgMax(ReadOnlySpan<float> s)
    {
        int best = 0;
        for (int i = 1; i < s.Length; i++) if (s[i] > s[best]) best = i;
        return best;
    }

    // ---- PredictionEngine path: one forward per row, cached by row position ---------------------------------------
    private sealed class RowMapper : IRowToRowMapper
    {
        private readonly TorchTransformerBase _parent;
        private readonly Func<DataViewRow, IRowFiller> _filler;
        private readonly long[] _rowShape;
        public RowMapper(TorchTransformerBase parent, DataViewSchema input)
        {
            _parent = parent; InputSchema = input; OutputSchema = parent.GetOutputSchema(input);
            (_filler, _rowShape) = parent.BindInput(input);
        }
        public DataViewSchema InputSchema { get; }
        public DataViewSchema OutputSchema { get; }

        public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns) =>
            AppendedColumns.Dependencies(InputSchema, dependingColumns, _parent.InputColumnName);

        public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns) =>
            new MappedRow(this, input, activeColumns.Select(c => c.Index).ToHashSet());

        private sealed class MappedRow : DataViewRow
        {
            private readonly RowMapper _m;
            private readonly DataViewRow _input;
            private readonly HashSet<int> _active;
            private readonly IRowFiller? _filler;
            private long _cachedPos = -1;
            private float[] _out = Array.Empty<float>();
            private readonly float[] _buf;
            public MappedRow(RowMapper m, DataViewRow input, HashSet<int> active)
            {
                _m = m; _input = input; _active = active;
                bool needModel = active.Any(i => i >= m.InputSchema.Count);
                _filler = needModel ? m._filler(input) : null;
                _buf = needModel ? new float[_filler!.Size] : Array.Empty<float>();
            }
            public override DataViewSchema Schema => _m.OutputSchema;
            public override long Position => _input.Position;
            public override long Batch => _input.Batch;
            public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();
            public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);

            private (float[], int, int) Current()
            {
                if (_cachedPos != _input.Position || _cachedPos < 0)
                {
                    _filler!.Fill(_buf);
                    _out = _m._parent.Score(_buf, 1, _m._rowShape, out _);
                    _cachedPos = _input.Position;
                }
                return (_out, 0, _out.Length);
            }

            public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
            {
                int n = _m.InputSchema.Count;
                if (column.Index < n) return _input.GetGetter<TValue>(_m.InputSchema[column.Index]);
                var col = _m._parent.OutputColumns[column.Index - n];
                return (ValueGetter<TValue>)_m._parent.MakeGetter(col, Current);
            }
        }
    }

    // ---- Transform path: a lazy view scoring InferenceBatchSize rows per forward --------------------------------
    private sealed class BatchedView : IDataView
    {
        private readonly TorchTransformerBase _parent;
        private readonly IDataView _input;
        private readonly Func<DataViewRow, IRowFiller> _filler;
        private readonly long[] _rowShape;
        public BatchedView(TorchTransformerBase parent, IDataView input)
        {
            _parent = parent; _input = input;
            Schema = parent.GetOutputSchema(input.Schema);
            (_filler, _rowShape) = parent.BindInput(input.Schema);
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
            // The follower cursor serves pass-through columns row by row; the lead cursor (same order, no shuffle)
            // reads ahead a batch of model inputs. Views return the same rows each time they are cursored.
            var follower = _input.GetRowCursor(passthrough);
            var lead = needModel ? _input.GetRowCursor(new[] { _input.Schema[_parent.InputColumnName] }) : null;
            return new Cursor(this, follower, lead, needed.Select(c => c.Index).ToHashSet());
        }

        private sealed class Cursor : DataViewRowCursor
        {
            private readonly BatchedView _v;
            private readonly DataViewRowCursor _follower;
            private readonly DataViewRowCursor? _lead;
            private readonly IRowFiller? _filler;
            private readonly HashSet<int> _active;
            private readonly float[] _in;
            private float[] _out = Array.Empty<float>();
            private int _width, _rowInBatch = -1, _rowsInBatch;
            public Cursor(BatchedView v, DataViewRowCursor follower, DataViewRowCursor? lead, HashSet<int> active)
            {
                _v = v; _follower = follower; _lead = lead; _active = active;
                _filler = lead != null ? v._filler(lead) : null;
                _in = lead != null ? new float[_filler!.Size * v._parent.InferenceBatchSize] : Array.Empty<float>();
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
                    int size = _filler!.Size, rows = 0, cap = _v._parent.InferenceBatchSize;
                    while (rows < cap && _lead.MoveNext()) { _filler.Fill(_in.AsSpan(rows * size, size)); rows++; }
                    if (rows == 0) throw new InvalidOperationException("Input view returned fewer rows on the second cursor; it must be deterministic.");
                    _out = _v._parent.Score(_in, rows, _v._rowShape, out _width);
                    _width = _out.Length / rows;
                    _rowsInBatch = rows; _rowInBatch = 0;
                }
                return true;
            }

            public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
            {
                int n = _v._input.Schema.Count;
                if (column.Index < n) return _follower.GetGetter<TValue>(_v._input.Schema[column.Index]);
                var col = _v._parent.OutputColumns[column.Index - n];
                return (ValueGetter<TValue>)_v._parent.MakeGetter(col, () => (_out, _rowInBatch * _width, _width));
            }

            protected override void Dispose(bool disposing)
            {
                if (disposing) { _follower.Dispose(); _lead?.Dispose(); }
                base.Dispose(disposing);
            }
        }
    }
}

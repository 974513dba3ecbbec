using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Core.Data;

/// <summary>One batch in managed memory: per input a row-major float buffer, plus optional class indices.</summary>
public sealed class HostBatch
{
    internal HostBatch(int[] sizes, int capacity)
    {
        Inputs = sizes.Select(s => new float[s * capacity]).ToArray();
        Sizes = sizes;
        Labels = new long[capacity];
        Capacity = capacity;
    }
    /// <summary>Per input: <see cref="Count"/> × size floats (only the first Count rows are valid).</summary>
    public float[][] Inputs { get; }
    /// <summary>Floats per row for each input.</summary>
    public int[] Sizes { get; }
    /// <summary>0-based class index per row (key − 1).</summary>
    public long[] Labels { get; }
    /// <summary>Rows filled.</summary>
    public int Count { get; internal set; }
    /// <summary>Maximum rows.</summary>
    public int Capacity { get; }
}

/// <summary>
/// Streams an <see cref="IDataView"/> into fixed-size managed batches through a cursor — never the whole dataset.
/// Shuffles through the source when it can (<c>CanShuffle</c>, seeded), otherwise through a bounded shuffle buffer.
/// Rows whose key label is missing (0) are skipped and counted.
/// </summary>
public sealed class BatchStreamer
{
    private readonly IDataView _data;
    private readonly Func<DataViewRow, IRowFiller>[] _inputs;
    private readonly string[] _inputColumns;
    private readonly string? _labelColumn;
    private readonly int _batchSize;

    public BatchStreamer(IDataView data, IReadOnlyList<(string Column, Func<DataViewRow, IRowFiller> Create)> inputs, string? labelColumn, int batchSize)
    {
        _data = data;
        _inputColumns = inputs.Select(i => i.Column).ToArray();
        _inputs = inputs.Select(i => i.Create).ToArray();
        _labelColumn = labelColumn;
        _batchSize = batchSize;
    }

    /// <summary>Rows skipped so far because their label was missing.</summary>
    public long SkippedMissingLabels { get; private set; }

    /// <summary>
    /// Throws, naming <paramref name="labelColumn"/>, when rows were skipped for a missing key label and that is not
    /// <paramref name="allowed"/> (<c>TorchTrainerOptions.SkipMissingLabels</c>); a missing key is often a 0-based/1-based slip.
    /// </summary>
    public void ThrowIfMissingLabels(bool allowed, string labelColumn, string what)
    {
        if (allowed || SkippedMissingLabels == 0) return;
        throw new InvalidOperationException(
            $"Column '{labelColumn}' of the {what} has a missing key value (0) in at least {SkippedMissingLabels} row(s). " +
            "Every row needs a class: in a C# row class a [KeyType(n)] field is 0-based (0..n−1; the value n reads as missing). " +
            "Filter such rows (mlContext.Data.FilterRowsByMissingValues) or set Options.SkipMissingLabels = true to skip them.");
    }

    /// <summary><see cref="Stream"/>, checking <see cref="ThrowIfMissingLabels"/> after every batch and at the end.</summary>
    public IEnumerable<HostBatch> StreamChecked(Random? shuffle, int shuffleBufferRows, bool allowMissingLabels, string labelColumn, string what, CancellationToken token = default)
    {
        foreach (var b in Stream(shuffle, shuffleBufferRows, token))
        {
            ThrowIfMissingLabels(allowMissingLabels, labelColumn, what);
            yield return b;
        }
        ThrowIfMissingLabels(allowMissingLabels, labelColumn, what); // rows skipped after the last full batch
    }

    /// <summary>Yields batches; the same <see cref="HostBatch"/> object is reused, so consume it before moving on.</summary>
    public IEnumerable<HostBatch> Stream(Random? shuffle, int shuffleBufferRows, CancellationToken token = default)
    {
        var cols = _inputColumns.Concat(_labelColumn != null ? new[] { _labelColumn } : Array.Empty<string>())
            .Select(c => _data.Schema[c]).ToArray();
        bool sourceShuffles = shuffle != null && _data.CanShuffle;
        using var cursor = _data.GetRowCursor(cols, sourceShuffles ? new Random(shuffle!.Next()) : null);
        var fillers = _inputs.Select(f => f(cursor)).ToArray();
        var sizes = fillers.Select(f => f.Size).ToArray();
        ValueGetter<uint>? label = _labelColumn != null ? cursor.GetGetter<uint>(cursor.Schema[_labelColumn]) : null;
        var batch = new HostBatch(sizes, _batchSize);

        // Bounded shuffle buffer (reservoir style) when the source cannot shuffle itself.
        bool useBuffer = shuffle != null && !sourceShuffles && shuffleBufferRows > 1;
        var pool = useBuffer ? new List<(float[][] x, long y)>(shuffleBufferRows) : null;

        uint key = 0;
        while (cursor.MoveNext())
        {
            token.ThrowIfCancellationRequested();
            if (label != null)
            {
                label(ref key);
                if (key == 0) { SkippedMissingLabels++; continue; }
            }
            if (!useBuffer)
            {
                int r = batch.Count;
                for (int i = 0; i < fillers.Length; i++) fillers[i].Fill(batch.Inputs[i].AsSpan(r * sizes[i], sizes[i]));
                batch.Labels[r] = (long)key - 1;
                if (++batch.Count == _batchSize) { yield return batch; batch.Count = 0; }
                continue;
            }
            var row = new float[fillers.Length][];
            for (int i = 0; i < fillers.Length; i++) { row[i] = new float[sizes[i]]; fillers[i].Fill(row[i]); }
            if (pool!.Count < shuffleBufferRows) { pool.Add((row, (long)key - 1)); continue; }
            int slot = shuffle!.Next(pool.Count);
            var outRow = pool[slot];
            pool[slot] = (row, (long)key - 1);
            if (Append(batch, outRow)) { yield return batch; batch.Count = 0; }
        }
        if (pool != null)
        {
            // Drain the buffer in random order.
            for (int n = pool.Count; n > 0; n--)
            {
                int slot = shuffle!.Next(n);
                var outRow = pool[slot];
                pool[slot] = pool[n - 1];
                if (Append(batch, outRow)) { yield return batch; batch.Count = 0; }
            }
        }
        if (batch.Count > 0) yield return batch;
    }

    private static bool Append(HostBatch batch, (float[][] x, long y) row)
    {
        int r = batch.Count;
        for (int i = 0; i < row.x.Length; i++) row.x[i].CopyTo(batch.Inputs[i].AsSpan(r * batch.Sizes[i], batch.Sizes[i]));
        batch.Labels[r] = row.y;
        return ++batch.Count == batch.Capacity;
    }
}

using Microsoft.ML;

namespace MLNetExtensions.Core.Data.Binding;

/// <summary>
/// Streams an <see cref="IDataView"/> into fixed-capacity <see cref="HostBatch"/>es through a cursor over the bound
/// columns — never the whole dataset. Shuffles through the source when it can (<c>CanShuffle</c>, seeded), otherwise
/// through a bounded shuffle buffer. Rows a reader skips (a missing label) are counted.
/// </summary>
public sealed class BatchStreamer
{
    private readonly IDataView _data;
    private readonly InputSpec[] _specs;
    private readonly int _batchSize;

    /// <summary>Binds resolved <paramref name="specs"/> (see <see cref="InputSpec.Resolve"/>) of <paramref name="data"/>.</summary>
    public BatchStreamer(IDataView data, IReadOnlyList<InputSpec> specs, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (specs.Count == 0) throw new ArgumentException("Bind at least one column.", nameof(specs));
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "Batches hold at least one row.");
        _data = data; _specs = specs.ToArray(); _batchSize = batchSize;
    }

    /// <summary>Rows skipped so far because a reader rejected them (a missing label).</summary>
    public long SkippedMissingLabels { get; private set; }

    /// <summary>The bound specs.</summary>
    public IReadOnlyList<InputSpec> Specs => _specs;

    /// <summary>An empty batch with this streamer's slots.</summary>
    public HostBatch NewBatch(int capacity) => new(_specs.SelectMany(s => s.Buffers()), capacity);

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
        var cols = _specs.Select(s => s.Column).Distinct().Select(c => _data.Schema[c]).ToArray();
        bool sourceShuffles = shuffle != null && _data.CanShuffle;
        using var cursor = _data.GetRowCursor(cols, sourceShuffles ? new Random(shuffle!.Next()) : null);
        // Labels first: a skipped row costs no feature read.
        var readers = _specs.OrderBy(s => s.Role == Binding.InputRole.Label ? 0 : 1).Select(s => s.CreateReader(cursor)).ToArray();
        var batch = NewBatch(_batchSize);

        // Bounded shuffle buffer (reservoir style) when the source cannot shuffle itself.
        bool useBuffer = shuffle != null && !sourceShuffles && shuffleBufferRows > 1;
        var pool = useBuffer ? NewBatch(shuffleBufferRows) : null;
        var scratch = useBuffer ? NewBatch(1) : null;

        while (cursor.MoveNext())
        {
            token.ThrowIfCancellationRequested();
            var target = useBuffer ? (pool!.Count < shuffleBufferRows ? pool : scratch!) : batch;
            int r = target == scratch ? 0 : target.Count;
            if (!ReadRow(readers, target, r)) { SkippedMissingLabels++; continue; }
            if (!useBuffer)
            {
                if (++batch.Count == _batchSize) { yield return batch; batch.Count = 0; }
                continue;
            }
            if (target == pool) { pool.Count++; continue; }
            int slot = shuffle!.Next(pool!.Count);
            pool.CopyRow(slot, batch, batch.Count);
            scratch!.CopyRow(0, pool, slot);
            if (++batch.Count == _batchSize) { yield return batch; batch.Count = 0; }
        }
        if (pool != null)
        {
            // Drain the buffer in random order.
            for (int n = pool.Count; n > 0; n--)
            {
                int slot = shuffle!.Next(n);
                pool.CopyRow(slot, batch, batch.Count);
                pool.CopyRow(n - 1, pool, slot);
                if (++batch.Count == _batchSize) { yield return batch; batch.Count = 0; }
            }
        }
        if (batch.Count > 0) yield return batch;
    }

    private static bool ReadRow(IRowReader[] readers, HostBatch batch, int row)
    {
        foreach (var r in readers) if (!r.Read(batch, row)) return false;
        return true;
    }
}

using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Data.Binding;

/// <summary>Element type of a <see cref="HostBuffer"/>.</summary>
public enum HostDType
{
    /// <summary>32-bit floats (pixels, features, masks, multi-hot vectors).</summary>
    Float32,
    /// <summary>64-bit integers (class indices, token ids, key maps).</summary>
    Int64,
}

/// <summary>
/// One named input of a batch in managed memory: <see cref="HostBatch.Capacity"/> rows of <see cref="RowShape"/>
/// values, row-major. A variable-length input (a sequence, a token list) has its first row dimension as the maximum and
/// a per-row <see cref="Lengths"/>; the tensor of a batch is cut to the longest row in it.
/// </summary>
public sealed class HostBuffer
{
    internal HostBuffer(string name, HostDType dtype, long[] rowShape, int capacity, bool variableLength)
    {
        Name = name; DType = dtype; RowShape = rowShape; VariableLength = variableLength;
        RowSize = checked((int)rowShape.Aggregate(1L, (a, b) => a * b));
        if (dtype == HostDType.Float32) Floats = new float[RowSize * capacity]; else Longs = new long[RowSize * capacity];
        if (variableLength) Lengths = new int[capacity];
    }

    /// <summary>Slot name (what the model's forward reads).</summary>
    public string Name { get; }
    /// <summary>Element type.</summary>
    public HostDType DType { get; }
    /// <summary>Shape of one row (for a variable-length input: [MaxLength, …]).</summary>
    public long[] RowShape { get; }
    /// <summary>Values per row.</summary>
    public int RowSize { get; }
    /// <summary>Whether rows have their own length along the first row dimension.</summary>
    public bool VariableLength { get; }
    /// <summary>Float storage (null for Int64).</summary>
    public float[]? Floats { get; }
    /// <summary>Int64 storage (null for Float32).</summary>
    public long[]? Longs { get; }
    /// <summary>Per-row lengths of a variable-length input (null otherwise).</summary>
    public int[]? Lengths { get; }

    /// <summary>The span of row <paramref name="row"/> (floats).</summary>
    public Span<float> FloatRow(int row) => Floats!.AsSpan(row * RowSize, RowSize);
    /// <summary>The span of row <paramref name="row"/> (int64).</summary>
    public Span<long> LongRow(int row) => Longs!.AsSpan(row * RowSize, RowSize);

    internal void CopyRow(int from, HostBuffer dst, int to)
    {
        if (Floats != null) Floats.AsSpan(from * RowSize, RowSize).CopyTo(dst.Floats!.AsSpan(to * RowSize, RowSize));
        else Longs!.AsSpan(from * RowSize, RowSize).CopyTo(dst.Longs!.AsSpan(to * RowSize, RowSize));
        if (Lengths != null) dst.Lengths![to] = Lengths[from];
    }

    /// <summary>
    /// The first <paramref name="rows"/> rows as a (rows, …RowShape) tensor on <paramref name="device"/>; a
    /// variable-length input is cut to its longest row (padding stays as written, zeros by default).
    /// </summary>
    public Tensor ToTensor(int rows, Device device)
    {
        var shape = new long[RowShape.Length + 1];
        shape[0] = rows;
        RowShape.CopyTo(shape, 1);
        // One copy, straight from the (reused) host buffer into the tensor's own native memory: no intermediate
        // managed array (a batch of images is megabytes, i.e. a large-object-heap allocation per forward otherwise).
        Tensor t = empty(shape, Floats != null ? ScalarType.Float32 : ScalarType.Int64);
        if (Floats != null) MemoryMarshal.AsBytes(Floats.AsSpan(0, rows * RowSize)).CopyTo(t.bytes);
        else MemoryMarshal.AsBytes(Longs!.AsSpan(0, rows * RowSize)).CopyTo(t.bytes);
        if (VariableLength && rows > 0)
        {
            long longest = Math.Max(1, Lengths!.AsSpan(0, rows).ToArray().Max());
            if (longest < RowShape[0]) t = t.narrow(1, 0, longest);
        }
        return t.to(device);
    }

    /// <summary>Per-row lengths of the first <paramref name="rows"/> rows as an int64 tensor (variable-length inputs only).</summary>
    public Tensor LengthsTensor(int rows, Device device) =>
        tensor(Lengths!.AsSpan(0, rows).ToArray().Select(l => (long)l).ToArray(), new long[] { rows }).to(device);
}

/// <summary>
/// One batch in managed memory: named <see cref="HostBuffer"/>s (one or more per bound column, e.g. token ids and
/// their attention mask) with <see cref="Count"/> valid rows. <see cref="BatchStreamer"/> reuses one object per stream.
/// </summary>
public sealed class HostBatch
{
    private readonly Dictionary<string, HostBuffer> _buffers;

    /// <summary>Creates an empty batch with the given buffers (usually made by <see cref="BatchStreamer"/>).</summary>
    public HostBatch(IEnumerable<(string Name, HostDType DType, long[] RowShape, bool VariableLength)> buffers, int capacity)
    {
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "A batch holds at least one row.");
        Capacity = capacity;
        _buffers = new Dictionary<string, HostBuffer>(StringComparer.Ordinal);
        foreach (var (n, d, s, v) in buffers)
            if (!_buffers.TryAdd(n, new HostBuffer(n, d, s, capacity, v)))
                throw new ArgumentException($"Two inputs write the batch slot '{n}'; give each bound column its own slot name.", nameof(buffers));
    }

    /// <summary>Rows filled.</summary>
    public int Count { get; set; }
    /// <summary>Maximum rows.</summary>
    public int Capacity { get; }
    /// <summary>Every buffer by slot name.</summary>
    public IReadOnlyDictionary<string, HostBuffer> Buffers => _buffers;
    /// <summary>The buffer of slot <paramref name="name"/>.</summary>
    public HostBuffer this[string name] => _buffers.TryGetValue(name, out var b) ? b
        : throw new KeyNotFoundException($"The batch has no slot '{name}'; it has {string.Join(", ", _buffers.Keys)}.");
    /// <summary>Whether the batch has slot <paramref name="name"/>.</summary>
    public bool Has(string name) => _buffers.ContainsKey(name);

    /// <summary>Slot <paramref name="name"/> of the valid rows as a tensor on <paramref name="device"/>.</summary>
    public Tensor Tensor(string name, Device device) => this[name].ToTensor(Count, device);

    /// <summary>Every slot of the valid rows as tensors (variable-length slots add <c>name.lengths</c>).</summary>
    public Dictionary<string, Tensor> Tensors(Device device)
    {
        var d = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (n, b) in _buffers)
        {
            d[n] = b.ToTensor(Count, device);
            if (b.VariableLength) d[n + LengthsSuffix] = b.LengthsTensor(Count, device);
        }
        return d;
    }

    /// <summary>Suffix of the per-row length tensor of a variable-length slot.</summary>
    public const string LengthsSuffix = ".lengths";

    internal void CopyRow(int from, HostBatch dst, int to)
    {
        foreach (var (n, b) in _buffers) b.CopyRow(from, dst._buffers[n], to);
    }
}

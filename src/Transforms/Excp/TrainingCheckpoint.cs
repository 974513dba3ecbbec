using System.Security.Cryptography;
using System.Text;

namespace MLNetExtensions.Transforms.Excp;

/// <summary>Adam's per-parameter state (PyTorch names): first moment, second moment and step count.</summary>
/// <param name="ExpAvg">First moment <c>exp_avg</c>, same element count as the parameter.</param>
/// <param name="ExpAvgSq">Second moment <c>exp_avg_sq</c>, same element count as the parameter.</param>
/// <param name="Step">Adam's step counter for this parameter (drives bias correction).</param>
public sealed record AdamState(float[] ExpAvg, float[] ExpAvgSq, long Step);

/// <summary>One named float32 tensor of a checkpoint (row-major), with its optimizer state if the optimizer tracks it.</summary>
/// <param name="Name">Parameter name, e.g. <c>fc1.weight</c>; optimizer state is matched by this name, never by position.</param>
/// <param name="Shape">Tensor shape.</param>
/// <param name="Values">Row-major values; length = product of <paramref name="Shape"/>.</param>
/// <param name="Adam">Adam state, or null for buffers / frozen tensors (stored losslessly).</param>
public sealed record CheckpointParameter(string Name, long[] Shape, float[] Values, AdamState? Adam = null)
{
    /// <summary>Number of elements.</summary>
    public long ElementCount => Values.LongLength;
}

/// <summary>Adam/AdamW hyper-parameters of a checkpoint (one parameter group).</summary>
public sealed record AdamHyperParameters(double LearningRate, double Beta1, double Beta2, double Eps, double WeightDecay, bool DecoupledWeightDecay);

/// <summary>
/// A generic training checkpoint: named float32 weights, per-parameter Adam state, hyper-parameters and opaque extra
/// blobs (scheduler, RNG, trainer state), so any trainer can hand its state to the ExCP codec.
/// </summary>
public sealed class TrainingCheckpoint
{
    private readonly Dictionary<string, CheckpointParameter> _byName;

    /// <summary>Creates a checkpoint; validates names (unique, non-empty) and that every buffer matches its shape.</summary>
    public TrainingCheckpoint(long step, IEnumerable<CheckpointParameter> parameters,
        AdamHyperParameters? optimizer = null, IReadOnlyDictionary<string, byte[]>? extras = null)
    {
        Step = step;
        Parameters = parameters.ToList();
        _byName = new Dictionary<string, CheckpointParameter>(StringComparer.Ordinal);
        foreach (var p in Parameters)
        {
            if (string.IsNullOrEmpty(p.Name)) throw new ArgumentException("Checkpoint parameter names must be non-empty.");
            if (!_byName.TryAdd(p.Name, p)) throw new ArgumentException($"Duplicate checkpoint parameter name '{p.Name}'.");
            long n = 1;
            foreach (var d in p.Shape)
            {
                if (d < 0) throw new ArgumentException($"Parameter '{p.Name}' has a negative dimension in shape [{string.Join(",", p.Shape)}].");
                n *= d;
            }
            if (n != p.Values.LongLength)
                throw new ArgumentException($"Parameter '{p.Name}': shape [{string.Join(",", p.Shape)}] needs {n} values, got {p.Values.LongLength}.");
            if (p.Adam != null && (p.Adam.ExpAvg.LongLength != n || p.Adam.ExpAvgSq.LongLength != n))
                throw new ArgumentException($"Parameter '{p.Name}': Adam moments must have {n} elements (exp_avg {p.Adam.ExpAvg.LongLength}, exp_avg_sq {p.Adam.ExpAvgSq.LongLength}).");
        }
        Optimizer = optimizer;
        Extras = extras ?? new Dictionary<string, byte[]>();
    }

    /// <summary>Training step (global step) of this checkpoint.</summary>
    public long Step { get; }

    /// <summary>Tensors in a stable order (the order given at construction).</summary>
    public IReadOnlyList<CheckpointParameter> Parameters { get; }

    /// <summary>Optimizer hyper-parameters, if known.</summary>
    public AdamHyperParameters? Optimizer { get; }

    /// <summary>Opaque blobs kept losslessly (scheduler state, RNG state, trainer state…).</summary>
    public IReadOnlyDictionary<string, byte[]> Extras { get; }

    /// <summary>The tensor with this name; throws <see cref="KeyNotFoundException"/> naming it if absent.</summary>
    public CheckpointParameter this[string name] =>
        _byName.TryGetValue(name, out var p) ? p : throw new KeyNotFoundException($"Checkpoint has no parameter named '{name}'.");

    /// <summary>Looks a tensor up by name.</summary>
    public bool TryGet(string name, out CheckpointParameter parameter) => _byName.TryGetValue(name, out parameter!);

    /// <summary>Total number of weight elements.</summary>
    public long ElementCount => Parameters.Sum(p => p.ElementCount);

    /// <summary>Bytes of the raw float32 weights plus both Adam moments (the paper's "original size").</summary>
    public long RawFloat32Bytes => Parameters.Sum(p => p.ElementCount * 4 * (p.Adam != null ? 3 : 1));

    /// <summary>
    /// SHA-256 of the numeric content (names, shapes, weights, moments, Adam steps, in order). A compressed link
    /// records its parent's hash, so it can never be applied to the wrong parent.
    /// </summary>
    public byte[] ContentHash()
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> b8 = stackalloc byte[8];
        foreach (var p in Parameters)
        {
            var name = Encoding.UTF8.GetBytes(p.Name);
            BitConverter.TryWriteBytes(b8, name.Length); h.AppendData(b8[..4]); h.AppendData(name);
            BitConverter.TryWriteBytes(b8, p.Shape.Length); h.AppendData(b8[..4]);
            foreach (var d in p.Shape) { BitConverter.TryWriteBytes(b8, d); h.AppendData(b8); }
            AppendFloats(h, p.Values);
            h.AppendData(new[] { (byte)(p.Adam != null ? 1 : 0) });
            if (p.Adam != null)
            {
                AppendFloats(h, p.Adam.ExpAvg);
                AppendFloats(h, p.Adam.ExpAvgSq);
                BitConverter.TryWriteBytes(b8, p.Adam.Step); h.AppendData(b8);
            }
        }
        return h.GetHashAndReset();
    }

    private static void AppendFloats(IncrementalHash h, float[] v)
    {
        // Values are hashed as little-endian float32 bytes (the machine order on every supported platform).
        const int chunk = 1 << 18;
        for (int i = 0; i < v.Length; i += chunk)
            h.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(v.AsSpan(i, Math.Min(chunk, v.Length - i))));
    }
}

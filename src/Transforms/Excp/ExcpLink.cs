namespace MLNetExtensions.Transforms.Excp;

/// <summary>How one tensor is stored in a link.</summary>
public enum TensorEncoding : byte
{
    /// <summary>float32 values (and moments) kept losslessly: key frames, tensors without Adam state or without a parent.</summary>
    Lossless = 0,
    /// <summary>ExCP: pruned + quantized weight residual against the parent reconstruction, pruned + quantized moments.</summary>
    Excp = 1,
}

/// <summary>Kept counts and thresholds of one ExCP-encoded tensor (for logging and the staleness guard of pitfall 12).</summary>
public sealed record TensorStatistics(long Elements, long WeightKept, long MomentKept, WeightCriterion? Weight, float? MomentumThreshold)
{
    /// <summary>Fraction of weight residual entries kept.</summary>
    public double WeightKeptFraction => Elements == 0 ? 0 : (double)WeightKept / Elements;
    /// <summary>Fraction of moment entries kept.</summary>
    public double MomentKeptFraction => Elements == 0 ? 0 : (double)MomentKept / Elements;
}

/// <summary>One tensor of a compressed link, independent of the file layout.</summary>
public sealed class EncodedTensor
{
    /// <summary>Parameter name.</summary>
    public required string Name { get; init; }
    /// <summary>Shape.</summary>
    public required long[] Shape { get; init; }
    /// <summary>Encoding.</summary>
    public required TensorEncoding Encoding { get; init; }
    /// <summary>Lossless: the values.</summary>
    public float[]? Values { get; init; }
    /// <summary>Lossless: Adam state, if any.</summary>
    public AdamState? Adam { get; init; }
    /// <summary>ExCP: weight mask over all elements (kept residual entries).</summary>
    public bool[]? WeightMask { get; init; }
    /// <summary>ExCP: momentum mask over the kept weight entries only (a subset of the weight mask).</summary>
    public bool[]? MomentMask { get; init; }
    /// <summary>ExCP: residual stream over the kept weight entries.</summary>
    public QuantizedStream? Residual { get; init; }
    /// <summary>ExCP: exp_avg stream over the kept moment entries.</summary>
    public QuantizedStream? ExpAvg { get; init; }
    /// <summary>ExCP: exp_avg_sq stream over the kept moment entries.</summary>
    public QuantizedStream? ExpAvgSq { get; init; }
    /// <summary>ExCP: Adam step of this checkpoint (the true one; official-compat decoding ignores it).</summary>
    public long AdamStep { get; init; }
    /// <summary>Compression statistics (null for lossless tensors).</summary>
    public TensorStatistics? Statistics { get; init; }

    /// <summary>Element count.</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>One compressed checkpoint of a chain ("link"), in memory.</summary>
public sealed class ExcpLink
{
    /// <summary>Training step of the checkpoint.</summary>
    public required long Step { get; init; }
    /// <summary>True for a key frame (no parent, everything lossless).</summary>
    public required bool IsKeyFrame { get; init; }
    /// <summary>Step of the parent (−1 for a key frame).</summary>
    public required long ParentStep { get; init; }
    /// <summary>SHA-256 of the parent's reconstruction (empty for a key frame).</summary>
    public required byte[] ParentHash { get; init; }
    /// <summary>SHA-256 of this link's reconstruction (checked after every decode).</summary>
    public required byte[] ReconstructionHash { get; init; }
    /// <summary>Codec settings used.</summary>
    public required ExcpOptions Options { get; init; }
    /// <summary>Optimizer hyper-parameters of this checkpoint.</summary>
    public AdamHyperParameters? Optimizer { get; init; }
    /// <summary>Opaque blobs (scheduler, RNG…), lossless.</summary>
    public IReadOnlyDictionary<string, byte[]> Extras { get; init; } = new Dictionary<string, byte[]>();
    /// <summary>Tensors in checkpoint order.</summary>
    public required IReadOnlyList<EncodedTensor> Tensors { get; init; }
}

/// <summary>A compressed link together with the reconstruction it decodes to (the parent of the next link).</summary>
public sealed record ExcpCompressed(ExcpLink Link, TrainingCheckpoint Reconstruction);

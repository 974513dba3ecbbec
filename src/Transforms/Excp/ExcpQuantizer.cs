namespace MLNetExtensions.Transforms.Excp;

/// <summary>How a stream's surviving entries are stored.</summary>
public enum StreamEncoding : byte
{
    /// <summary>b-bit codes into a (2^b − 1)-entry codebook; code 0 = zero.</summary>
    Quantized = 0,
    /// <summary>float32 values as-is (the official fallback when a stream has ≤ 2^b − 1 nonzeros).</summary>
    Raw = 1,
}

/// <summary>
/// One quantized stream (pruned residual, exp_avg or exp_avg_sq) over its support (the surviving positions, in
/// row-major order).
/// </summary>
public sealed class QuantizedStream
{
    /// <summary>Encoding of the values.</summary>
    public required StreamEncoding Encoding { get; init; }
    /// <summary>Bits per code.</summary>
    public required int Bits { get; init; }
    /// <summary>Number of support entries (codes or raw values).</summary>
    public required int Count { get; init; }
    /// <summary>Codebook as stored (float32, or float16-rounded values in official-compatibility mode); null for raw.</summary>
    public float[]? Codebook { get; init; }
    /// <summary>Codebook as trained by k-means (float32, before any float16 rounding); null for raw.</summary>
    public float[]? TrainedCodebook { get; init; }
    /// <summary>One code per support entry (0 = zero, j = Codebook[j − 1]); null for raw.</summary>
    public byte[]? Codes { get; init; }
    /// <summary>Raw values per support entry; null when quantized.</summary>
    public float[]? RawValues { get; init; }

    /// <summary>Decoded value of support entry <paramref name="i"/>.</summary>
    public float this[int i] => Encoding == StreamEncoding.Raw ? RawValues![i] : Codes![i] == 0 ? 0f : Codebook![Codes[i] - 1];
}

/// <summary>
/// Non-uniform quantisation of one stream as the official <c>quant()</c>: nonzero entries are clustered by a
/// faiss-compatible 1-D k-means with 2^b − 1 centroids; code 0 is reserved for zero.
/// </summary>
public static class ExcpQuantizer
{
    /// <summary>
    /// Quantizes <paramref name="values"/> (the stream over its support, zeros allowed). With ≤ 2^b − 1 nonzeros the
    /// values are kept raw, as the official fallback does. <paramref name="float16Codebook"/> rounds the stored codebook
    /// to float16 like the official code (labels are still chosen with the float32 centroids).
    /// </summary>
    public static QuantizedStream Quantize(ReadOnlySpan<float> values, int bits, bool float16Codebook)
    {
        int k = ExcpOptions.Centroids(bits);
        int nonzero = 0;
        foreach (var v in values) if (v != 0) nonzero++;
        if (nonzero <= k)
            return new QuantizedStream { Encoding = StreamEncoding.Raw, Bits = bits, Count = values.Length, RawValues = values.ToArray() };

        var x = new float[nonzero];
        for (int i = 0, j = 0; i < values.Length; i++) if (values[i] != 0) x[j++] = values[i];
        var trained = FaissKMeans1D.Train(x, k);
        var labels = FaissKMeans1D.Assign(x, trained);
        var codes = new byte[values.Length];
        for (int i = 0, j = 0; i < values.Length; i++) if (values[i] != 0) codes[i] = (byte)(labels[j++] + 1);
        var stored = float16Codebook ? trained.Select(c => (float)(Half)c).ToArray() : (float[])trained.Clone();
        return new QuantizedStream { Encoding = StreamEncoding.Quantized, Bits = bits, Count = values.Length, Codebook = stored, TrainedCodebook = trained, Codes = codes };
    }
}

/// <summary>Bit packing of codes: 8/b codes per byte, first element in the high bits (official layout).</summary>
public static class LabelPacking
{
    /// <summary>Packs codes (each &lt; 2^bits); a partial last byte is padded with zero codes (the official code asserts instead).</summary>
    public static byte[] Pack(ReadOnlySpan<byte> codes, int bits)
    {
        int per = 8 / bits;
        var packed = new byte[(codes.Length + per - 1) / per];
        for (int i = 0; i < codes.Length; i++)
        {
            int shift = bits * (per - 1 - i % per);
            packed[i / per] |= (byte)(codes[i] << shift);
        }
        return packed;
    }

    /// <summary>Unpacks <paramref name="count"/> codes.</summary>
    public static byte[] Unpack(ReadOnlySpan<byte> packed, int bits, int count)
    {
        int per = 8 / bits, mask = (1 << bits) - 1;
        if (packed.Length < (count + per - 1) / per) throw new ArgumentException($"{packed.Length} packed bytes cannot hold {count} codes of {bits} bits.");
        var codes = new byte[count];
        for (int i = 0; i < count; i++)
            codes[i] = (byte)((packed[i / per] >> (bits * (per - 1 - i % per))) & mask);
        return codes;
    }

    /// <summary>The official stored shape <c>(−1, shape[−1] // (8/b))</c>; null where the official reshape would fail (we pad instead).</summary>
    public static long[]? OfficialPackedShape(long[] shape, int bits)
    {
        int per = 8 / bits;
        long n = shape.Aggregate(1L, (a, b) => a * b);
        long last = shape.Length == 0 ? 1 : shape[^1];
        long cols = last / per;
        if (n % per != 0 || cols == 0 || (n / per) % cols != 0) return null;
        return new[] { n / per / cols, cols };
    }
}

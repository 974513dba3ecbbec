namespace MLNetExtensions.Transforms.Datasets.Video;

/// <summary>
/// SplitMix64 (Steele, Lea &amp; Flood, 2014): a tiny, well-mixed 64-bit generator. <see cref="ForPair"/> hashes
/// (seed, index) into the starting state, so neighbouring indices get unrelated streams — unlike
/// <c>new Random(a·seed + b·index)</c>, whose (legacy, seeded) outputs are affine in the seed modulo 2³¹−1, which
/// made the labels of consecutive clips follow a near-periodic pattern.
/// </summary>
internal struct SplitMix64
{
    private const ulong Golden = 0x9E3779B97F4A7C15UL;
    private ulong _state;

    /// <summary>Starts at the given state.</summary>
    public SplitMix64(ulong state) => _state = state;

    /// <summary>A stream that depends only on (<paramref name="seed"/>, <paramref name="index"/>), well mixed in both.</summary>
    public static SplitMix64 ForPair(int seed, int index) =>
        // Finalize the packed pair (a bijection of the 64-bit word), so distinct pairs start from distinct, unrelated states.
        new(Mix(((ulong)(uint)seed << 32 | (uint)index) + Golden));

    /// <summary>The SplitMix64 output finalizer (a bijection on 64-bit words).</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Next 64 random bits.</summary>
    public ulong NextUInt64() => Mix(_state += Golden);

    /// <summary>Uniform integer in [0, <paramref name="n"/>) (multiply-shift on the top 32 bits; bias below 2⁻³² · n).</summary>
    public int Next(int n)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1, nameof(n));
        return (int)(((NextUInt64() >> 32) * (ulong)n) >> 32);
    }

    /// <summary>Uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));
}

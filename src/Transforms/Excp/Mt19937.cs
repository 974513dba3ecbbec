namespace MLNetExtensions.Transforms.Excp;

/// <summary>
/// The standard 32-bit Mersenne Twister (<c>std::mt19937</c>), with faiss 1.7.x's helpers on top. Needed to reproduce
/// faiss' k-means subsampling, initialisation and empty-cluster splits bit for bit.
/// </summary>
internal sealed class Mt19937
{
    private const int N = 624, M = 397;
    private readonly uint[] _mt = new uint[N];
    private int _i;

    /// <summary>Seeds like <c>std::mt19937(seed)</c> (<c>init_genrand</c>).</summary>
    public Mt19937(uint seed)
    {
        _mt[0] = seed;
        for (int i = 1; i < N; i++) _mt[i] = 1812433253u * (_mt[i - 1] ^ (_mt[i - 1] >> 30)) + (uint)i;
        _i = N;
    }

    /// <summary>Next raw 32-bit output.</summary>
    public uint Next()
    {
        if (_i >= N)
        {
            for (int k = 0; k < N; k++)
            {
                uint y = (_mt[k] & 0x80000000u) | (_mt[(k + 1) % N] & 0x7fffffffu);
                _mt[k] = _mt[(k + M) % N] ^ (y >> 1) ^ ((y & 1u) != 0 ? 0x9908b0dfu : 0u);
            }
            _i = 0;
        }
        uint x = _mt[_i++];
        x ^= x >> 11;
        x ^= (x << 7) & 0x9d2c5680u;
        x ^= (x << 15) & 0xefc60000u;
        x ^= x >> 18;
        return x;
    }

    /// <summary>faiss 1.7.x <c>rand_int(n) = mt() % n</c> (newer faiss uses multiply-shift; do not change).</summary>
    public int RandInt(int n) => (int)(Next() % (uint)n);

    /// <summary>faiss <c>rand_float() = float(mt()) / float(mt.max())</c>; the divisor rounds to 2^32.</summary>
    public float RandFloat() => (float)Next() / 4294967295f;

    /// <summary>faiss <c>rand_perm</c>: a Fisher–Yates shuffle of 0..n-1 driven by <c>mt19937(seed)</c>.</summary>
    public static int[] RandPerm(int n, long seed)
    {
        var perm = new int[n];
        for (int i = 0; i < n; i++) perm[i] = i;
        var rng = new Mt19937(unchecked((uint)seed));
        for (int i = 0; i + 1 < n; i++)
        {
            int j = i + rng.RandInt(n - i);
            (perm[i], perm[j]) = (perm[j], perm[i]);
        }
        return perm;
    }
}

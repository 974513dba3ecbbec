namespace MLNetExtensions.Transforms.Excp;

/// <summary>CRC-32C (Castagnoli), used for the per-section checksums of ExCP files (System.IO.Hashing is not referenced).</summary>
public static class Crc32C
{
    private static readonly uint[] Table = Build();

    private static uint[] Build()
    {
        var t = new uint[256 * 8];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0x82F63B78u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        for (int s = 1; s < 8; s++)
            for (int i = 0; i < 256; i++)
                t[s * 256 + i] = (t[(s - 1) * 256 + i] >> 8) ^ t[t[(s - 1) * 256 + i] & 0xFF];
        return t;
    }

    /// <summary>CRC-32C of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFFu;
        int i = 0;
        // Slicing-by-8 for speed on large sections.
        for (; i + 8 <= data.Length; i += 8)
        {
            uint lo = c ^ (uint)(data[i] | data[i + 1] << 8 | data[i + 2] << 16 | data[i + 3] << 24);
            uint hi = (uint)(data[i + 4] | data[i + 5] << 8 | data[i + 6] << 16 | data[i + 7] << 24);
            c = Table[7 * 256 + (lo & 0xFF)] ^ Table[6 * 256 + ((lo >> 8) & 0xFF)] ^ Table[5 * 256 + ((lo >> 16) & 0xFF)] ^ Table[4 * 256 + (lo >> 24)]
              ^ Table[3 * 256 + (hi & 0xFF)] ^ Table[2 * 256 + ((hi >> 8) & 0xFF)] ^ Table[1 * 256 + ((hi >> 16) & 0xFF)] ^ Table[hi >> 24];
        }
        for (; i < data.Length; i++) c = Table[(c ^ data[i]) & 0xFF] ^ (c >> 8);
        return c ^ 0xFFFFFFFFu;
    }
}

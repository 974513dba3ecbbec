using System.Text;
using MLNetExtensions.Transforms.Excp;
using Xunit;

namespace MLNetExtensions.Tests.Excp;

/// <summary>CRC-32C through System.IO.Hashing keeps the values the ExCP files were written with.</summary>
public class Crc32CTests
{
    // RFC 3720 (iSCSI) appendix B.4 vectors and the common "123456789" check value.
    [Fact]
    public void MatchesPublishedVectors()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute(Encoding.ASCII.GetBytes("123456789")));
        Assert.Equal(0x8A9136AAu, Crc32C.Compute(new byte[32]));
        Assert.Equal(0x62A8AB43u, Crc32C.Compute(Enumerable.Repeat((byte)0xFF, 32).ToArray()));
        Assert.Equal(0x46DD794Eu, Crc32C.Compute(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray()));
        Assert.Equal(0x113FDB5Cu, Crc32C.Compute(Enumerable.Range(0, 32).Select(i => (byte)(31 - i)).ToArray()));
        Assert.Equal(0u, Crc32C.Compute(ReadOnlySpan<byte>.Empty));
    }

    // The bitwise definition (reflected polynomial 0x82F63B78) on lengths around the vector widths.
    [Fact]
    public void MatchesBitwiseDefinitionOnRandomData()
    {
        var rng = new Random(7);
        foreach (int n in new[] { 1, 7, 8, 15, 16, 31, 63, 64, 65, 255, 4096, 100_003 })
        {
            var data = new byte[n];
            rng.NextBytes(data);
            Assert.Equal(Bitwise(data), Crc32C.Compute(data));
        }
    }

    private static uint Bitwise(byte[] data)
    {
        uint c = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0x82F63B78u ^ (c >> 1) : c >> 1;
        }
        return c ^ 0xFFFFFFFFu;
    }
}

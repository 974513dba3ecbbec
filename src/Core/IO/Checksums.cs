using System.Security.Cryptography;

namespace MLNetExtensions.Core.IO;

/// <summary>The one spelling of the SHA-256 checks written into model zips (lower-case hex), so writers and readers agree.</summary>
public static class Checksums
{
    /// <summary>Lower-case hex SHA-256 of <paramref name="bytes"/>.</summary>
    public static string Sha256Hex(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();
}

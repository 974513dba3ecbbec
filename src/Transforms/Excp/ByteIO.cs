using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace MLNetExtensions.Transforms.Excp;

/// <summary>Little-endian writer into a growable buffer (the ExCP format is little-endian throughout).</summary>
internal sealed class ByteWriter
{
    private readonly MemoryStream _ms = new();
    public long Length => _ms.Length;
    public void U8(byte v) => _ms.WriteByte(v);
    public void Bool(bool v) => _ms.WriteByte(v ? (byte)1 : (byte)0);
    public void I32(int v) { Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteInt32LittleEndian(b, v); _ms.Write(b); }
    public void U32(uint v) { Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); _ms.Write(b); }
    public void I64(long v) { Span<byte> b = stackalloc byte[8]; BinaryPrimitives.WriteInt64LittleEndian(b, v); _ms.Write(b); }
    public void F32(float v) { Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteSingleLittleEndian(b, v); _ms.Write(b); }
    public void F64(double v) { Span<byte> b = stackalloc byte[8]; BinaryPrimitives.WriteDoubleLittleEndian(b, v); _ms.Write(b); }
    public void Bytes(ReadOnlySpan<byte> b) => _ms.Write(b);
    public void Floats(ReadOnlySpan<float> f)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ExCP files are written on little-endian machines only.");
        _ms.Write(MemoryMarshal.AsBytes(f));
    }
    public void Str(string s) { var b = Encoding.UTF8.GetBytes(s); I32(b.Length); _ms.Write(b); }
    public void Bitmap(ReadOnlySpan<bool> bits)
    {
        var b = new byte[(bits.Length + 7) / 8];
        for (int i = 0; i < bits.Length; i++) if (bits[i]) b[i >> 3] |= (byte)(1 << (i & 7));
        _ms.Write(b);
    }
    public byte[] ToArray() => _ms.ToArray();
}

/// <summary>Thrown by <see cref="ByteReader"/> on any overrun or bad value; converted to <see cref="ExcpFormatException"/> by callers.</summary>
internal sealed class ByteReaderException(string message) : Exception(message);

/// <summary>Bounds-checked little-endian reader: never reads past its buffer, never allocates more than the buffer can justify.</summary>
internal ref struct ByteReader(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> _d = data;
    private int _p;
    public int Position => _p;
    public int Remaining => _d.Length - _p;
    private ReadOnlySpan<byte> Take(long n)
    {
        if (n < 0 || n > Remaining) throw new ByteReaderException($"truncated content: needs {n} bytes at offset {_p}, {Remaining} left");
        var s = _d.Slice(_p, (int)n);
        _p += (int)n;
        return s;
    }
    public byte U8() => Take(1)[0];
    public bool Bool() => U8() switch { 0 => false, 1 => true, var b => throw new ByteReaderException($"invalid boolean byte {b}") };
    public int I32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));
    public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
    public long I64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));
    public float F32() => BinaryPrimitives.ReadSingleLittleEndian(Take(4));
    public double F64() => BinaryPrimitives.ReadDoubleLittleEndian(Take(8));
    public ReadOnlySpan<byte> Bytes(long n) => Take(n);
    public int Count(string what, long max)
    {
        int n = I32();
        if (n < 0 || n > max) throw new ByteReaderException($"invalid {what} count {n}");
        return n;
    }
    public float[] Floats(long n)
    {
        var b = Take(checked(n * 4));
        var f = new float[n];
        b.CopyTo(MemoryMarshal.AsBytes(f.AsSpan()));
        return f;
    }
    public string Str(int maxBytes = 1 << 16)
    {
        int n = I32();
        if (n < 0 || n > maxBytes) throw new ByteReaderException($"invalid string length {n}");
        try { return new UTF8Encoding(false, true).GetString(Take(n)); }
        catch (DecoderFallbackException) { throw new ByteReaderException("invalid UTF-8 in a name"); }
    }
    public bool[] Bitmap(long n)
    {
        var b = Take((n + 7) / 8);
        var r = new bool[n];
        for (int i = 0; i < n; i++) r[i] = (b[i >> 3] >> (i & 7) & 1) != 0;
        if ((n & 7) != 0 && (b[^1] >> (int)(n & 7)) != 0) throw new ByteReaderException("nonzero padding bits in a mask");
        return r;
    }
    public void End(string what)
    {
        if (Remaining != 0) throw new ByteReaderException($"{Remaining} unexpected trailing bytes in {what}");
    }
}

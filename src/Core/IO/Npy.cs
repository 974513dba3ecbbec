using System.Buffers.Binary;
using System.Text;
using System.Text.RegularExpressions;
using TorchSharp;

namespace MLNetExtensions.Core.IO;

/// <summary>An array read from a NumPy <c>.npy</c> file (C order; little-endian).</summary>
public sealed record NpyArray(string Dtype, long[] Shape, byte[] Data)
{
    /// <summary>Number of elements.</summary>
    public long Length => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>Values as float32 (converted from float64/float16/int types where needed).</summary>
    public float[] ToFloat()
    {
        var n = (int)Length;
        var r = new float[n];
        switch (Dtype)
        {
            case "<f4": Buffer.BlockCopy(Data, 0, r, 0, n * 4); break;
            case "<f8": for (int i = 0; i < n; i++) r[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(Data.AsSpan(i * 8)); break;
            case "<f2": for (int i = 0; i < n; i++) r[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(Data.AsSpan(i * 2)); break;
            case "<i8": for (int i = 0; i < n; i++) r[i] = BinaryPrimitives.ReadInt64LittleEndian(Data.AsSpan(i * 8)); break;
            case "<i4": for (int i = 0; i < n; i++) r[i] = BinaryPrimitives.ReadInt32LittleEndian(Data.AsSpan(i * 4)); break;
            case "|u1": case "|b1": for (int i = 0; i < n; i++) r[i] = Data[i]; break;
            case "|i1": for (int i = 0; i < n; i++) r[i] = (sbyte)Data[i]; break;
            default: throw new NotSupportedException($"npy dtype '{Dtype}' cannot be read as float.");
        }
        return r;
    }

    /// <summary>Values as int64 (integer and bool dtypes).</summary>
    public long[] ToInt64()
    {
        var n = (int)Length;
        var r = new long[n];
        switch (Dtype)
        {
            case "<i8": Buffer.BlockCopy(Data, 0, r, 0, n * 8); break;
            case "<i4": for (int i = 0; i < n; i++) r[i] = BinaryPrimitives.ReadInt32LittleEndian(Data.AsSpan(i * 4)); break;
            case "<i2": for (int i = 0; i < n; i++) r[i] = BinaryPrimitives.ReadInt16LittleEndian(Data.AsSpan(i * 2)); break;
            case "<u2": for (int i = 0; i < n; i++) r[i] = BinaryPrimitives.ReadUInt16LittleEndian(Data.AsSpan(i * 2)); break;
            case "|u1": case "|b1": for (int i = 0; i < n; i++) r[i] = Data[i]; break;
            case "|i1": for (int i = 0; i < n; i++) r[i] = (sbyte)Data[i]; break;
            default: throw new NotSupportedException($"npy dtype '{Dtype}' cannot be read as int64.");
        }
        return r;
    }

    /// <summary>A new CPU float32 tensor with this array's shape.</summary>
    public torch.Tensor ToTensor() => torch.tensor(ToFloat(), Shape);
}

/// <summary>Minimal reader/writer for NumPy's <c>.npy</c> format (versions 1–3), enough for fixtures and exports.</summary>
public static class Npy
{
    private static readonly Regex DescrRx = new(@"'descr'\s*:\s*'([^']+)'");
    private static readonly Regex OrderRx = new(@"'fortran_order'\s*:\s*(True|False)");
    private static readonly Regex ShapeRx = new(@"'shape'\s*:\s*\(([^)]*)\)");

    /// <summary>Reads a .npy file; errors name the file.</summary>
    public static NpyArray Read(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        { throw new IOException($"Cannot read npy file '{path}': {e.Message}", e); }
        try { return Parse(bytes); }
        catch (FormatException e) { throw new FormatException($"'{path}' is not a valid .npy file: {e.Message}", e); }
    }

    /// <summary>Parses .npy bytes.</summary>
    public static NpyArray Parse(byte[] bytes)
    {
        if (bytes.Length < 10 || bytes[0] != 0x93 || Encoding.ASCII.GetString(bytes, 1, 5) != "NUMPY")
            throw new FormatException("missing \\x93NUMPY magic");
        int major = bytes[6];
        int headerLen, start;
        if (major == 1) { headerLen = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)); start = 10; }
        else { headerLen = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)); start = 12; }
        if (start + headerLen > bytes.Length) throw new FormatException("truncated header");
        var header = Encoding.Latin1.GetString(bytes, start, headerLen);
        var descr = DescrRx.Match(header);
        var shape = ShapeRx.Match(header);
        if (!descr.Success || !shape.Success) throw new FormatException("header lacks descr/shape");
        if (OrderRx.Match(header).Groups[1].Value == "True") throw new FormatException("fortran_order arrays are not supported");
        var dims = shape.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(long.Parse).ToArray();
        var dtype = descr.Groups[1].Value;
        if (dtype == "<b1") dtype = "|b1";
        var arr = new NpyArray(dtype, dims, Array.Empty<byte>());
        int itemSize = int.Parse(dtype[2..]);
        long need = arr.Length * itemSize;
        var dataStart = start + headerLen;
        if (bytes.Length - dataStart < need) throw new FormatException($"truncated data: expected {need} bytes");
        return arr with { Data = bytes.AsSpan(dataStart, (int)need).ToArray() };
    }

    /// <summary>Writes a float32 array as .npy (version 1.0).</summary>
    public static void Write(string path, float[] data, params long[] shape)
    {
        var shapeText = shape.Length == 1 ? $"({shape[0]},)" : "(" + string.Join(", ", shape) + ")";
        var header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': {shapeText}, }}";
        int total = 10 + header.Length + 1;
        header += new string(' ', (64 - total % 64) % 64) + "\n";
        using var fs = File.Create(path);
        fs.Write(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 });
        var h = Encoding.ASCII.GetBytes(header);
        fs.Write(BitConverter.GetBytes((ushort)h.Length));
        fs.Write(h);
        var raw = new byte[data.Length * 4];
        Buffer.BlockCopy(data, 0, raw, 0, raw.Length);
        fs.Write(raw);
    }
}

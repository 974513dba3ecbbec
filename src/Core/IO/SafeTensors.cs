using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.IO;

/// <summary>
/// Reads and writes a state dict in the safetensors layout (8-byte header length, JSON header, raw little-endian
/// data). This is our weight format inside ML.NET model zips: language-neutral, readable from Python, no code.
/// </summary>
public static class SafeTensors
{
    private static readonly Dictionary<ScalarType, (string Name, int Size)> Types = new()
    {
        [ScalarType.Float32] = ("F32", 4), [ScalarType.Float64] = ("F64", 8), [ScalarType.Float16] = ("F16", 2),
        [ScalarType.BFloat16] = ("BF16", 2), [ScalarType.Int64] = ("I64", 8), [ScalarType.Int32] = ("I32", 4),
        [ScalarType.Int16] = ("I16", 2), [ScalarType.Int8] = ("I8", 1), [ScalarType.Byte] = ("U8", 1), [ScalarType.Bool] = ("BOOL", 1),
    };

    /// <summary>Writes tensors (any device; copied to CPU) in key order.</summary>
    public static void Write(Stream stream, IEnumerable<KeyValuePair<string, Tensor>> tensors)
    {
        var list = tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        var header = new Dictionary<string, object>();
        long offset = 0;
        var blobs = new List<byte[]>();
        foreach (var (name, t) in list)
        {
            if (!Types.TryGetValue(t.dtype, out var ty)) throw new NotSupportedException($"Tensor '{name}' has unsupported dtype {t.dtype}.");
            using var cpu = t.detach().cpu().contiguous();
            var bytes = cpu.bytes.ToArray();
            header[name] = new { dtype = ty.Name, shape = t.shape, data_offsets = new[] { offset, offset + bytes.Length } };
            offset += bytes.Length;
            blobs.Add(bytes);
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        var pad = (8 - json.Length % 8) % 8;
        var hdr = new byte[json.Length + pad];
        json.CopyTo(hdr, 0);
        for (int i = json.Length; i < hdr.Length; i++) hdr[i] = (byte)' ';
        stream.Write(BitConverter.GetBytes((ulong)hdr.Length));
        stream.Write(hdr);
        foreach (var b in blobs) stream.Write(b);
    }

    /// <summary>Reads all tensors onto the CPU. Throws <see cref="InvalidDataException"/> on a malformed stream.</summary>
    public static Dictionary<string, Tensor> Read(Stream stream)
    {
        using var ms = new MemoryStream();
        stream.CopyTo(ms);
        var all = ms.GetBuffer().AsSpan(0, (int)ms.Length);
        if (all.Length < 8) throw new InvalidDataException("safetensors stream is shorter than its header length.");
        var n = BitConverter.ToUInt64(all);
        if (n > (ulong)(all.Length - 8)) throw new InvalidDataException("safetensors header length exceeds the stream.");
        using var doc = JsonDocument.Parse(all.Slice(8, (int)n).ToArray());
        var data = all.Slice(8 + (int)n);
        var result = new Dictionary<string, Tensor>();
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (p.Name == "__metadata__") continue;
            var dtypeName = p.Value.GetProperty("dtype").GetString();
            var (st, (_, size)) = Types.FirstOrDefault(kv => kv.Value.Name == dtypeName);
            if (size == 0) throw new InvalidDataException($"Tensor '{p.Name}' has unknown dtype '{dtypeName}'.");
            var shape = p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var offs = p.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            long count = shape.Aggregate(1L, (a, b) => a * b);
            if (offs[0] < 0 || offs[1] > data.Length || offs[1] - offs[0] != count * size)
                throw new InvalidDataException($"Tensor '{p.Name}' has inconsistent data offsets.");
            var t = torch.empty(shape, st);
            data.Slice((int)offs[0], (int)(offs[1] - offs[0])).CopyTo(t.bytes);
            result[p.Name] = t;
        }
        return result;
    }
}

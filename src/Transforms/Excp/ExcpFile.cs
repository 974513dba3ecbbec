using MLNetExtensions.Core.IO;
using System.Buffers.Binary;

namespace MLNetExtensions.Transforms.Excp;

/// <summary>Location and checksum of one zstd-compressed section of an ExCP file.</summary>
public readonly record struct ExcpSection(long Offset, long StoredLength, long RawLength, uint Crc32C);

/// <summary>What the manifest of a link file says about one tensor (readable without decoding the tensor).</summary>
public sealed record ExcpTensorInfo(string Name, TensorEncoding Encoding, long[] Shape, bool HasAdam, long AdamStep,
    long WeightKept, long MomentKept, float Multiplier, float WeightThreshold, float MomentumThreshold,
    ExcpSection WeightSection, ExcpSection OptimizerSection);

/// <summary>Header and manifest of a link file.</summary>
public sealed record ExcpFileInfo(string Path, int Version, long Step, bool IsKeyFrame, long ParentStep, byte[] ParentHash,
    byte[] ReconstructionHash, long FileLength, string CodecId, string KMeansId, ExcpOptions Options,
    AdamHyperParameters? Optimizer, IReadOnlyDictionary<string, byte[]> Extras, IReadOnlyList<ExcpTensorInfo> Tensors);

/// <summary>
/// The on-disk ExCP link format (version 1, little-endian):
/// a 136-byte header (magic, version, flags, step, parent step, parent and reconstruction SHA-256, manifest location,
/// total length, header CRC-32C), a zstd-compressed manifest (options, optimizer, extras, tensor table with per-tensor
/// section offsets), then one zstd section for each tensor's weight part and one for its optimizer part, each with its
/// own CRC-32C. Corrupt, truncated or foreign files raise <see cref="ExcpFormatException"/>.
/// </summary>
public static class ExcpFile
{
    /// <summary>File magic (PNG-style: catches text-mode and truncation-by-transfer damage).</summary>
    public static ReadOnlySpan<byte> Magic => [0x89, (byte)'E', (byte)'X', (byte)'C', (byte)'P', 0x0D, 0x0A, 0x1A];

    /// <summary>Current format version.</summary>
    public const int Version = 1;

    /// <summary>Codec id recorded in the manifest.</summary>
    public const string CodecId = "excp-joint-shrink-v1";

    private const int HeaderSize = 136;
    private const int LosslessZstdLevel = 3; // raw float32 barely compresses; a high level only costs time
    private const long MaxElements = 1L << 31;

    /// <summary>Serialises a link (header, manifest, zstd sections) to bytes.</summary>
    public static byte[] Serialize(ExcpLink link)
    {
        var o = link.Options;
        var sections = new List<byte[]>();
        var infos = new List<(EncodedTensor T, ExcpSection W, ExcpSection O)>();
        long offset = 0; // relative to the start of the section area; fixed up below
        var compressors = new Dictionary<int, ZstdSharp.Compressor>(); // one per level: a level-19 context is costly to create
        byte[] Zstd(byte[] raw, int level)
        {
            if (!compressors.TryGetValue(level, out var c)) compressors[level] = c = new ZstdSharp.Compressor(level);
            return c.Wrap(raw).ToArray();
        }
        ExcpSection Add(byte[] raw, int level)
        {
            if (raw.Length == 0) return default;
            var stored = Zstd(raw, level);
            sections.Add(stored);
            var s = new ExcpSection(offset, stored.Length, raw.Length, Crc32C.Compute(stored));
            offset += stored.Length;
            return s;
        }
        foreach (var t in link.Tensors)
        {
            var (w, opt) = EncodeTensorPayload(t);
            int level = t.Encoding == TensorEncoding.Lossless ? Math.Min(LosslessZstdLevel, o.ZstdLevel) : o.ZstdLevel;
            infos.Add((t, Add(w, level), Add(opt, level)));
        }

        // The manifest's length depends on the offsets, which depend on the manifest's length: keep offsets relative
        // to the section area and store the area's start in the header instead.
        var m = new ByteWriter();
        m.Str(CodecId); m.Str(FaissKMeans1D.ImplementationId);
        m.F64(o.Alpha); m.F64(o.Beta); m.F64(o.MultiplierClamp); m.I32(o.WeightBits); m.I32(o.MomentBits);
        m.Bool(o.OfficialCompatibility); m.I32(o.KeyFrameInterval); m.I32(o.ZstdLevel); m.Bool(o.VerifyAfterWrite); m.F64(o.MinWeightKeptFraction);
        m.Bool(link.Optimizer != null);
        if (link.Optimizer is { } h) { m.F64(h.LearningRate); m.F64(h.Beta1); m.F64(h.Beta2); m.F64(h.Eps); m.F64(h.WeightDecay); m.Bool(h.DecoupledWeightDecay); }
        m.I32(link.Extras.Count);
        foreach (var (k, v) in link.Extras.OrderBy(e => e.Key, StringComparer.Ordinal)) { m.Str(k); m.I32(v.Length); m.Bytes(v); }
        m.I32(infos.Count);
        foreach (var (t, w, opt) in infos)
        {
            m.Str(t.Name); m.U8((byte)t.Encoding);
            m.I32(t.Shape.Length); foreach (var d in t.Shape) m.I64(d);
            bool hasAdam = t.Encoding == TensorEncoding.Excp || t.Adam != null;
            m.Bool(hasAdam); m.I64(t.Encoding == TensorEncoding.Excp ? t.AdamStep : t.Adam?.Step ?? 0);
            var st = t.Statistics;
            m.I64(st?.WeightKept ?? t.ElementCount); m.I64(st?.MomentKept ?? (t.Adam != null ? t.ElementCount : 0));
            m.F32(st?.Weight?.Multiplier ?? 0); m.F32(st?.Weight?.Threshold ?? 0); m.F32(st?.MomentumThreshold ?? 0);
            foreach (var s in new[] { w, opt }) { m.I64(s.Offset); m.I64(s.StoredLength); m.I64(s.RawLength); m.U32(s.Crc32C); }
        }
        var manifestRaw = m.ToArray();
        var manifest = Zstd(manifestRaw, o.ZstdLevel);
        foreach (var c in compressors.Values) c.Dispose();

        long sectionStart = HeaderSize + manifest.Length;
        long total = sectionStart + sections.Sum(s => (long)s.Length);
        var file = new byte[total];
        var hd = file.AsSpan(0, HeaderSize);
        Magic.CopyTo(hd);
        BinaryPrimitives.WriteUInt16LittleEndian(hd[8..], Version);
        BinaryPrimitives.WriteUInt16LittleEndian(hd[10..], (ushort)((link.IsKeyFrame ? 1 : 0) | (o.OfficialCompatibility ? 2 : 0)));
        BinaryPrimitives.WriteInt32LittleEndian(hd[12..], HeaderSize);
        BinaryPrimitives.WriteInt64LittleEndian(hd[16..], link.Step);
        BinaryPrimitives.WriteInt64LittleEndian(hd[24..], link.ParentStep);
        WriteHash(hd.Slice(32, 32), link.ParentHash);
        WriteHash(hd.Slice(64, 32), link.ReconstructionHash);
        BinaryPrimitives.WriteInt64LittleEndian(hd[96..], HeaderSize);
        BinaryPrimitives.WriteInt64LittleEndian(hd[104..], manifest.Length);
        BinaryPrimitives.WriteInt64LittleEndian(hd[112..], manifestRaw.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(hd[120..], Crc32C.Compute(manifest));
        BinaryPrimitives.WriteInt64LittleEndian(hd[124..], total);
        BinaryPrimitives.WriteUInt32LittleEndian(hd[132..], Crc32C.Compute(hd[..132]));
        manifest.CopyTo(file, HeaderSize);
        long p = sectionStart;
        foreach (var s in sections) { s.CopyTo(file, p); p += s.Length; }
        return file;
    }

    /// <summary>Writes a link atomically (temp file + fsync + rename): a crash never leaves a partial file under <paramref name="path"/>.</summary>
    public static void Write(string path, ExcpLink link) => AtomicFile.WriteAllBytes(path, Serialize(link));

    /// <summary>Reads header and manifest only (cheap: no tensor section is decompressed).</summary>
    public static ExcpFileInfo ReadInfo(string path) => ParseInfo(ReadBytes(path), path);

    /// <summary>Reads and fully validates a link (all checksums, all structure).</summary>
    public static ExcpLink Read(string path) => Deserialize(ReadBytes(path), path);

    /// <summary>Parses a link from bytes; <paramref name="source"/> names it in errors.</summary>
    public static ExcpLink Deserialize(byte[] bytes, string source) => Deserialize(bytes, source, verifyChecksums: true);

    /// <summary>Parses a link; tests switch checksums off to fuzz the parser and zstd behind them.</summary>
    internal static ExcpLink Deserialize(byte[] bytes, string source, bool verifyChecksums)
    {
        var info = ParseInfo(bytes, source, verifyChecksums);
        long sectionStart = HeaderSize + BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(104));
        var tensors = new List<EncodedTensor>(info.Tensors.Count);
        foreach (var ti in info.Tensors)
        {
            try
            {
                var w = Section(bytes, sectionStart, ti.WeightSection, source, info.Step, ti.Name + " (weights)", verifyChecksums);
                var opt = Section(bytes, sectionStart, ti.OptimizerSection, source, info.Step, ti.Name + " (optimizer)", verifyChecksums);
                tensors.Add(DecodeTensorPayload(ti, w, opt, info.Options));
            }
            catch (ByteReaderException e)
            { throw new ExcpFormatException(source, info.Step, $"tensor '{ti.Name}': {e.Message}"); }
        }
        return new ExcpLink
        {
            Step = info.Step, IsKeyFrame = info.IsKeyFrame, ParentStep = info.ParentStep, ParentHash = info.ParentHash,
            ReconstructionHash = info.ReconstructionHash, Options = info.Options, Optimizer = info.Optimizer, Extras = info.Extras, Tensors = tensors,
        };
    }

    private static byte[] ReadBytes(string path)
    {
        try { return File.ReadAllBytes(path); }
        catch (FileNotFoundException) { throw new ExcpFormatException(path, null, "file is missing."); }
        catch (DirectoryNotFoundException) { throw new ExcpFormatException(path, null, "file is missing (folder not found)."); }
    }

    /// <summary>Parses header and manifest from bytes.</summary>
    public static ExcpFileInfo ParseInfo(byte[] bytes, string source) => ParseInfo(bytes, source, true);

    private static ExcpFileInfo ParseInfo(byte[] bytes, string source, bool verifyChecksums)
    {
        if (bytes.Length < HeaderSize) throw new ExcpFormatException(source, null, $"truncated: {bytes.Length} bytes is shorter than the {HeaderSize}-byte header.");
        var hd = bytes.AsSpan(0, HeaderSize);
        if (!hd[..8].SequenceEqual(Magic)) throw new ExcpFormatException(source, null, "not an ExCP link file (bad magic).");
        int version = BinaryPrimitives.ReadUInt16LittleEndian(hd[8..]);
        if (verifyChecksums && Crc32C.Compute(hd[..132]) != BinaryPrimitives.ReadUInt32LittleEndian(hd[132..]))
            throw new ExcpFormatException(source, null, "header checksum mismatch (corrupt header).");
        long step = BinaryPrimitives.ReadInt64LittleEndian(hd[16..]);
        if (version != Version) throw new ExcpFormatException(source, step, $"unsupported format version {version} (this build reads version {Version}).");
        int flags = BinaryPrimitives.ReadUInt16LittleEndian(hd[10..]);
        if (BinaryPrimitives.ReadInt32LittleEndian(hd[12..]) != HeaderSize || (flags & ~3) != 0)
            throw new ExcpFormatException(source, step, "invalid header fields.");
        long total = BinaryPrimitives.ReadInt64LittleEndian(hd[124..]);
        if (total != bytes.Length)
            throw new ExcpFormatException(source, step, total > bytes.Length ? $"truncated: {bytes.Length} of {total} bytes present." : $"{bytes.Length - total} unexpected trailing bytes.");
        long mOff = BinaryPrimitives.ReadInt64LittleEndian(hd[96..]), mLen = BinaryPrimitives.ReadInt64LittleEndian(hd[104..]), mRaw = BinaryPrimitives.ReadInt64LittleEndian(hd[112..]);
        var ms = new ExcpSection(0, mLen, mRaw, BinaryPrimitives.ReadUInt32LittleEndian(hd[120..]));
        if (mOff != HeaderSize) throw new ExcpFormatException(source, step, "invalid manifest offset.");
        var manifest = Section(bytes, HeaderSize, ms, source, step, "manifest", verifyChecksums);
        bool keyFrame = (flags & 1) != 0;
        long parentStep = BinaryPrimitives.ReadInt64LittleEndian(hd[24..]);
        var parentHash = keyFrame ? Array.Empty<byte>() : hd.Slice(32, 32).ToArray();
        var reconHash = hd.Slice(64, 32).ToArray();
        if (keyFrame != (parentStep == -1)) throw new ExcpFormatException(source, step, "key-frame flag and parent step disagree.");
        try
        {
            var r = new ByteReader(manifest);
            var codec = r.Str();
            if (codec != CodecId) throw new ByteReaderException($"unknown codec '{codec}'");
            var kmeans = r.Str();
            var o = new ExcpOptions
            {
                Alpha = r.F64(), Beta = r.F64(), MultiplierClamp = r.F64(), WeightBits = r.I32(), MomentBits = r.I32(),
                OfficialCompatibility = r.Bool(), KeyFrameInterval = r.I32(), ZstdLevel = r.I32(), VerifyAfterWrite = r.Bool(), MinWeightKeptFraction = r.F64(),
            };
            try { o.Validate(); } catch (ArgumentException e) { throw new ByteReaderException(e.Message); }
            if (o.OfficialCompatibility != ((flags & 2) != 0)) throw new ByteReaderException("compatibility flag disagrees with the header");
            AdamHyperParameters? hyper = r.Bool() ? new AdamHyperParameters(r.F64(), r.F64(), r.F64(), r.F64(), r.F64(), r.Bool()) : null;
            int ne = r.Count("extras", 1 << 16);
            var extras = new Dictionary<string, byte[]>(StringComparer.Ordinal);
            for (int i = 0; i < ne; i++)
            {
                var k = r.Str();
                var v = r.Bytes(r.Count("extra bytes", int.MaxValue)).ToArray();
                if (!extras.TryAdd(k, v)) throw new ByteReaderException($"duplicate extra '{k}'");
            }
            int nt = r.Count("tensor", 1 << 24);
            var tensors = new List<ExcpTensorInfo>(Math.Min(nt, 4096));
            var names = new HashSet<string>(StringComparer.Ordinal);
            long areaLen = bytes.Length - (HeaderSize + mLen);
            for (int i = 0; i < nt; i++)
            {
                var name = r.Str();
                if (name.Length == 0 || !names.Add(name)) throw new ByteReaderException($"empty or duplicate tensor name '{name}'");
                var enc = r.U8();
                if (enc > 1) throw new ByteReaderException($"tensor '{name}': unknown encoding {enc}");
                int rank = r.Count("dimension", 16);
                var shape = new long[rank];
                long n = 1;
                for (int d = 0; d < rank; d++)
                {
                    shape[d] = r.I64();
                    if (shape[d] < 0 || shape[d] > MaxElements) throw new ByteReaderException($"tensor '{name}': invalid dimension {shape[d]}");
                    n *= shape[d];
                    if (n > MaxElements) throw new ByteReaderException($"tensor '{name}': too many elements");
                }
                bool hasAdam = r.Bool();
                long adamStep = r.I64();
                long wk = r.I64(), mk = r.I64();
                float mult = r.F32(), thr = r.F32(), tauO = r.F32();
                var secs = new ExcpSection[2];
                for (int s = 0; s < 2; s++)
                {
                    secs[s] = new ExcpSection(r.I64(), r.I64(), r.I64(), r.U32());
                    var x = secs[s];
                    if (x.Offset < 0 || x.StoredLength < 0 || x.RawLength < 0 || x.Offset > areaLen || x.StoredLength > areaLen - x.Offset
                        || x.RawLength > 16 * n + 1024 || (x.StoredLength == 0) != (x.RawLength == 0))
                        throw new ByteReaderException($"tensor '{name}': section {s} lies outside the file or has an impossible size");
                }
                if ((TensorEncoding)enc == TensorEncoding.Excp && !hasAdam) throw new ByteReaderException($"tensor '{name}': ExCP tensor without optimizer state");
                if (wk < 0 || wk > n || mk < 0 || mk > wk && (TensorEncoding)enc == TensorEncoding.Excp) throw new ByteReaderException($"tensor '{name}': invalid kept counts");
                tensors.Add(new ExcpTensorInfo(name, (TensorEncoding)enc, shape, hasAdam, adamStep, wk, mk, mult, thr, tauO, secs[0], secs[1]));
            }
            r.End("manifest");
            return new ExcpFileInfo(source, version, step, keyFrame, parentStep, parentHash, reconHash, total, codec, kmeans, o, hyper, extras, tensors);
        }
        catch (ByteReaderException e) { throw new ExcpFormatException(source, step, $"manifest: {e.Message}"); }
    }

    private static byte[] Section(byte[] file, long areaStart, ExcpSection s, string source, long step, string what, bool verifyChecksums)
    {
        if (s.StoredLength == 0) return Array.Empty<byte>();
        if (s.Offset < 0 || s.StoredLength < 0 || s.RawLength < 0 || areaStart + s.Offset + s.StoredLength > file.Length || s.RawLength > int.MaxValue)
            throw new ExcpFormatException(source, step, $"{what}: section lies outside the file.");
        var stored = file.AsSpan((int)(areaStart + s.Offset), (int)s.StoredLength);
        if (verifyChecksums && Crc32C.Compute(stored) != s.Crc32C) throw new ExcpFormatException(source, step, $"{what}: checksum mismatch (corrupt section).");
        var raw = new byte[s.RawLength];
        int written;
        try
        {
            using var d = new ZstdSharp.Decompressor();
            written = d.Unwrap(stored, raw);
        }
        catch (Exception e) when (e is ZstdSharp.ZstdException or ArgumentException or InvalidOperationException)
        { throw new ExcpFormatException(source, step, $"{what}: zstd data is invalid ({e.Message}).", e); }
        if (written != s.RawLength) throw new ExcpFormatException(source, step, $"{what}: decompressed {written} bytes, expected {s.RawLength}.");
        return raw;
    }

    private static void WriteHash(Span<byte> dest, byte[] hash)
    {
        if (hash.Length != 0 && hash.Length != 32) throw new ArgumentException("Hashes must be SHA-256 (32 bytes).");
        hash.CopyTo(dest);
    }

    private static (byte[] Weights, byte[] Optimizer) EncodeTensorPayload(EncodedTensor t)
    {
        var w = new ByteWriter();
        var opt = new ByteWriter();
        if (t.Encoding == TensorEncoding.Lossless)
        {
            w.Floats(t.Values!);
            if (t.Adam != null) { opt.Floats(t.Adam.ExpAvg); opt.Floats(t.Adam.ExpAvgSq); }
        }
        else
        {
            w.Bitmap(t.WeightMask!);
            WriteStream(w, t.Residual!);
            opt.Bitmap(t.MomentMask!);
            WriteStream(opt, t.ExpAvg!);
            WriteStream(opt, t.ExpAvgSq!);
        }
        return (w.ToArray(), opt.ToArray());
    }

    private static void WriteStream(ByteWriter w, QuantizedStream s)
    {
        w.U8((byte)s.Encoding); w.U8((byte)s.Bits); w.I32(s.Count);
        if (s.Encoding == StreamEncoding.Raw) { w.Floats(s.RawValues!); return; }
        w.Floats(s.Codebook!);
        w.Bytes(LabelPacking.Pack(s.Codes!, s.Bits));
    }

    private static EncodedTensor DecodeTensorPayload(ExcpTensorInfo ti, byte[] wBytes, byte[] oBytes, ExcpOptions o)
    {
        long n = ti.Shape.Aggregate(1L, (a, b) => a * b);
        if (ti.Encoding == TensorEncoding.Lossless)
        {
            var rw = new ByteReader(wBytes);
            var values = rw.Floats(n);
            rw.End("weights");
            AdamState? adam = null;
            var ro = new ByteReader(oBytes);
            if (ti.HasAdam) adam = new AdamState(ro.Floats(n), ro.Floats(n), ti.AdamStep);
            ro.End("optimizer state");
            return new EncodedTensor { Name = ti.Name, Shape = ti.Shape, Encoding = TensorEncoding.Lossless, Values = values, Adam = adam };
        }
        var r = new ByteReader(wBytes);
        var wmask = r.Bitmap(n);
        int kw = wmask.Count(b => b);
        var residual = ReadStream(ref r, kw, o.WeightBits, "residual");
        r.End("weights");
        var q = new ByteReader(oBytes);
        var omask = q.Bitmap(kw);
        int ko = omask.Count(b => b);
        var m = ReadStream(ref q, ko, o.MomentBits, "exp_avg");
        var v = ReadStream(ref q, ko, o.MomentBits, "exp_avg_sq");
        q.End("optimizer state");
        if (kw != ti.WeightKept || ko != ti.MomentKept) throw new ByteReaderException("mask popcounts disagree with the manifest");
        return new EncodedTensor
        {
            Name = ti.Name, Shape = ti.Shape, Encoding = TensorEncoding.Excp, WeightMask = wmask, MomentMask = omask,
            Residual = residual, ExpAvg = m, ExpAvgSq = v, AdamStep = ti.AdamStep,
            Statistics = new TensorStatistics(n, kw, ko, null, ti.MomentumThreshold),
        };
    }

    private static QuantizedStream ReadStream(ref ByteReader r, int count, int bits, string what)
    {
        var enc = r.U8();
        int b = r.U8();
        int c = r.I32();
        if (b != bits || c != count) throw new ByteReaderException($"{what} stream: header says {c} entries of {b} bits, expected {count} of {bits}");
        if (enc == (byte)StreamEncoding.Raw)
            return new QuantizedStream { Encoding = StreamEncoding.Raw, Bits = bits, Count = count, RawValues = r.Floats(count) };
        if (enc != (byte)StreamEncoding.Quantized) throw new ByteReaderException($"{what} stream: unknown encoding {enc}");
        int k = ExcpOptions.Centroids(bits);
        var codebook = r.Floats(k);
        foreach (var x in codebook) if (!float.IsFinite(x)) throw new ByteReaderException($"{what} stream: non-finite codebook entry");
        int per = 8 / bits;
        var codes = LabelPacking.Unpack(r.Bytes((count + per - 1) / per), bits, count);
        foreach (var x in codes) if (x > k) throw new ByteReaderException($"{what} stream: code {x} out of range");
        return new QuantizedStream { Encoding = StreamEncoding.Quantized, Bits = bits, Count = count, Codebook = codebook, Codes = codes };
    }
}

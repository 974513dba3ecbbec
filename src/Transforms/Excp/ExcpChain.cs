using MLNetExtensions.Core.IO;
using System.Buffers.Binary;

namespace MLNetExtensions.Transforms.Excp;

/// <summary>One link of a chain as recorded in the chain index.</summary>
/// <param name="Step">Training step.</param>
/// <param name="FileName">Link file name inside the chain folder.</param>
/// <param name="ParentStep">Parent step (−1 for a key frame).</param>
/// <param name="IsKeyFrame">Lossless key frame.</param>
/// <param name="ReconstructionHash">SHA-256 of the decoded checkpoint.</param>
/// <param name="FileLength">Length of the link file in bytes.</param>
public sealed record ExcpChainEntry(long Step, string FileName, long ParentStep, bool IsKeyFrame, byte[] ReconstructionHash, long FileLength);

/// <summary>Result of appending a checkpoint to a chain.</summary>
/// <param name="Entry">The index entry written.</param>
/// <param name="Reconstruction">The decoded checkpoint (what resuming from this step gives; parent of the next link).</param>
/// <param name="RawBytes">float32 size of weights + both moments.</param>
/// <param name="Statistics">Kept counts per ExCP-coded tensor (log them: a tensor stuck near 0 % is frozen, pitfall 12).</param>
public sealed record ExcpAppendResult(ExcpChainEntry Entry, TrainingCheckpoint Reconstruction, long RawBytes, IReadOnlyDictionary<string, TensorStatistics> Statistics)
{
    /// <summary>Compressed size of the link file.</summary>
    public long CompressedBytes => Entry.FileLength;
    /// <summary>Raw float32 size over compressed size.</summary>
    public double Ratio => (double)RawBytes / CompressedBytes;
}

/// <summary>Outcome of <see cref="ExcpChain.Verify"/> for one link.</summary>
public sealed record ExcpVerifyResult(long Step, string FileName, bool Ok, string Message);

/// <summary>
/// A chain of compressed checkpoints in one folder: a key frame, then links each coded against the reconstruction of
/// the previous one (closed loop), plus an index (<c>chain.excpidx</c>) mapping step → file, parent and hash.
/// Decoding step k reads only the links from the last key frame up to k. All writes are atomic.
/// </summary>
public sealed class ExcpChain
{
    /// <summary>Index file name.</summary>
    public const string IndexFileName = "chain.excpidx";
    private static ReadOnlySpan<byte> IndexMagic => [0x89, (byte)'E', (byte)'X', (byte)'I', (byte)'D', (byte)'X', 0x0D, 0x0A];
    private const int IndexVersion = 1;

    private readonly List<ExcpChainEntry> _entries;
    private (long Step, TrainingCheckpoint Checkpoint)? _cache;

    private ExcpChain(string directory, ExcpOptions options, List<ExcpChainEntry> entries)
    {
        Directory = directory;
        Options = options;
        _entries = entries;
    }

    /// <summary>Chain folder.</summary>
    public string Directory { get; }

    /// <summary>Options used for the next appends (each link file records its own).</summary>
    public ExcpOptions Options { get; set; }

    /// <summary>Links in step order.</summary>
    public IReadOnlyList<ExcpChainEntry> Entries => _entries;

    /// <summary>Path of the index file.</summary>
    public string IndexPath => Path.Combine(Directory, IndexFileName);

    /// <summary>Opens the chain in <paramref name="directory"/>, creating an empty one if the folder has no index.</summary>
    public static ExcpChain Open(string directory, ExcpOptions? options = null)
    {
        options ??= new ExcpOptions();
        options.Validate();
        System.IO.Directory.CreateDirectory(directory);
        var idx = Path.Combine(directory, IndexFileName);
        if (!File.Exists(idx))
        {
            if (System.IO.Directory.EnumerateFiles(directory, "*.excp").Any())
                throw new ExcpFormatException(idx, null, "index is missing but link files exist; call ExcpChain.RebuildIndex.");
            return new ExcpChain(directory, options, new List<ExcpChainEntry>());
        }
        return new ExcpChain(directory, options, ReadIndex(idx));
    }

    /// <summary>Rebuilds the index from the link files' headers (after losing it), checking that they form one chain.</summary>
    public static ExcpChain RebuildIndex(string directory, ExcpOptions? options = null)
    {
        var entries = new List<ExcpChainEntry>();
        foreach (var f in System.IO.Directory.EnumerateFiles(directory, "*.excp"))
        {
            var info = ExcpFile.ReadInfo(f);
            entries.Add(new ExcpChainEntry(info.Step, Path.GetFileName(f), info.ParentStep, info.IsKeyFrame, info.ReconstructionHash, info.FileLength));
        }
        entries.Sort((a, b) => a.Step.CompareTo(b.Step));
        for (int i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            if (i > 0 && e.Step == entries[i - 1].Step) throw new ExcpFormatException(Path.Combine(directory, e.FileName), e.Step, "two link files hold the same step.");
            if (!e.IsKeyFrame && (i == 0 || e.ParentStep != entries[i - 1].Step))
                throw new ExcpFormatException(Path.Combine(directory, e.FileName), e.Step, $"missing link: parent step {e.ParentStep} is not the previous file of the chain.");
        }
        var chain = new ExcpChain(directory, options ?? new ExcpOptions(), entries);
        chain.WriteIndex();
        return chain;
    }

    /// <summary>Whether the next <see cref="Append"/> writes a lossless key frame (the first one, and every <see cref="ExcpOptions.KeyFrameInterval"/>-th).</summary>
    public bool NextAppendIsKeyFrame
    {
        get
        {
            if (_entries.Count == 0) return true;
            int sinceKey = 0;
            for (int i = _entries.Count - 1; i >= 0 && !_entries[i].IsKeyFrame; i--) sinceKey++;
            return Options.KeyFrameInterval > 0 && sinceKey + 1 >= Options.KeyFrameInterval;
        }
    }

    /// <summary>Link file name of a step.</summary>
    public static string FileNameFor(long step) => $"step-{step:D12}.excp";

    /// <summary>
    /// Compresses <paramref name="checkpoint"/> against the reconstruction of the last link (closed loop) and appends it:
    /// the link file is written atomically and verified by decoding it back, then the index is replaced atomically.
    /// The first checkpoint (and every <see cref="ExcpOptions.KeyFrameInterval"/>-th) becomes a lossless key frame.
    /// </summary>
    public ExcpAppendResult Append(TrainingCheckpoint checkpoint)
    {
        Options.Validate();
        if (_entries.Count > 0 && checkpoint.Step <= _entries[^1].Step)
            throw new ArgumentException($"Checkpoint step {checkpoint.Step} must be greater than the chain's last step {_entries[^1].Step}.");
        TrainingCheckpoint? parent = null;
        if (!NextAppendIsKeyFrame) parent = Read(_entries[^1].Step);
        var compressed = ExcpCodec.Compress(checkpoint, parent, Options);
        if (parent != null && !compressed.Link.ParentHash.AsSpan().SequenceEqual(_entries[^1].ReconstructionHash))
        {
            // The cached reconstruction was modified by a caller: decode the parent from disk and start again.
            _cache = null;
            parent = Read(_entries[^1].Step);
            compressed = ExcpCodec.Compress(checkpoint, parent, Options);
        }
        var bytes = ExcpFile.Serialize(compressed.Link);
        var name = FileNameFor(checkpoint.Step);
        var path = Path.Combine(Directory, name);
        if (Options.VerifyAfterWrite)
        {
            // Decode the exact bytes to be written before declaring the link durable.
            var again = ExcpCodec.Decode(ExcpFile.Deserialize(bytes, path), parent, path);
            if (!again.ContentHash().AsSpan().SequenceEqual(compressed.Link.ReconstructionHash))
                throw new InvalidOperationException($"Verification decode of step {checkpoint.Step} differs from the in-memory reconstruction.");
        }
        AtomicFile.WriteAllBytes(path, bytes);
        var entry = new ExcpChainEntry(checkpoint.Step, name, compressed.Link.ParentStep, compressed.Link.IsKeyFrame, compressed.Link.ReconstructionHash, bytes.Length);
        _entries.Add(entry);
        try { WriteIndex(); }
        catch { _entries.RemoveAt(_entries.Count - 1); throw; }
        _cache = (checkpoint.Step, compressed.Reconstruction);
        var stats = compressed.Link.Tensors.Where(t => t.Statistics != null).ToDictionary(t => t.Name, t => t.Statistics!);
        return new ExcpAppendResult(entry, compressed.Reconstruction, checkpoint.RawFloat32Bytes, stats);
    }

    /// <summary>
    /// Decodes the checkpoint of <paramref name="step"/>, reading the links from the last key frame up to it. The last
    /// decoded step is cached (and re-verified by hash before reuse); treat returned arrays as read-only.
    /// </summary>
    public TrainingCheckpoint Read(long step)
    {
        int idx = _entries.FindIndex(e => e.Step == step);
        if (idx < 0) throw new KeyNotFoundException($"Chain '{Directory}' has no step {step} (steps: {string.Join(", ", _entries.Select(e => e.Step))}).");
        // The cache is shared with callers (Append's Reconstruction, earlier Reads): trust it only while its hash still matches.
        if (_cache is { } c0 && !c0.Checkpoint.ContentHash().AsSpan().SequenceEqual(_entries.First(e => e.Step == c0.Step).ReconstructionHash)) _cache = null;
        if (_cache is { } c && c.Step == step) return c.Checkpoint;
        int start = idx;
        while (!_entries[start].IsKeyFrame)
        {
            if (start == 0 || _entries[start].ParentStep != _entries[start - 1].Step)
                throw new ExcpFormatException(Path.Combine(Directory, _entries[start].FileName), _entries[start].Step, $"missing link: parent step {_entries[start].ParentStep} is not in the index.");
            start--;
        }
        TrainingCheckpoint? cur = null;
        // Resume from the cache when it lies on the path.
        if (_cache is { } cc) { int ci = _entries.FindIndex(e => e.Step == cc.Step); if (ci >= start && ci < idx) { cur = cc.Checkpoint; start = ci + 1; } }
        for (int i = start; i <= idx; i++) cur = DecodeEntry(_entries[i], cur);
        _cache = (step, cur!);
        return cur!;
    }

    /// <summary>Decodes every link in order and checks checksums, parents and reconstruction hashes.</summary>
    public IReadOnlyList<ExcpVerifyResult> Verify()
    {
        var results = new List<ExcpVerifyResult>();
        TrainingCheckpoint? cur = null;
        foreach (var e in _entries)
        {
            try
            {
                cur = DecodeEntry(e, e.IsKeyFrame ? null : cur);
                results.Add(new ExcpVerifyResult(e.Step, e.FileName, true, e.IsKeyFrame ? "key frame ok" : $"link ok (parent {e.ParentStep})"));
            }
            catch (ExcpFormatException ex)
            {
                results.Add(new ExcpVerifyResult(e.Step, e.FileName, false, ex.Message));
                cur = null; // later links cannot be decoded without this one
            }
        }
        return results;
    }

    private TrainingCheckpoint DecodeEntry(ExcpChainEntry e, TrainingCheckpoint? parent)
    {
        var path = Path.Combine(Directory, e.FileName);
        if (!File.Exists(path)) throw new ExcpFormatException(path, e.Step, "missing link: the file listed in the index does not exist.");
        ExcpLink link;
        try { link = ExcpFile.Deserialize(File.ReadAllBytes(path), path); }
        catch (ExcpFormatException ex) when (ex.Step == null)
        {
            // A damaged header cannot tell its own step; the index can.
            throw new ExcpFormatException(path, e.Step, ex.Message[(ex.Message.IndexOf("': ", StringComparison.Ordinal) + 3)..], ex);
        }
        if (link.Step != e.Step || link.ParentStep != e.ParentStep || link.IsKeyFrame != e.IsKeyFrame || !link.ReconstructionHash.AsSpan().SequenceEqual(e.ReconstructionHash))
            throw new ExcpFormatException(path, e.Step, "file header disagrees with the chain index (file replaced or index stale).");
        if (!link.IsKeyFrame && parent == null)
            throw new ExcpFormatException(path, e.Step, $"missing link: parent step {e.ParentStep} could not be decoded.");
        return ExcpCodec.Decode(link, link.IsKeyFrame ? null : parent, path);
    }

    private void WriteIndex()
    {
        var w = new ByteWriter();
        w.Bytes(IndexMagic); w.I32(IndexVersion); w.I32(_entries.Count);
        foreach (var e in _entries)
        {
            w.I64(e.Step); w.Str(e.FileName); w.I64(e.ParentStep); w.Bool(e.IsKeyFrame);
            w.I32(e.ReconstructionHash.Length); w.Bytes(e.ReconstructionHash); w.I64(e.FileLength);
        }
        var body = w.ToArray();
        var all = new byte[body.Length + 4];
        body.CopyTo(all, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(all.AsSpan(body.Length), Crc32C.Compute(body));
        AtomicFile.WriteAllBytes(IndexPath, all);
    }

    private static List<ExcpChainEntry> ReadIndex(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 20 || !bytes.AsSpan(0, 8).SequenceEqual(IndexMagic)) throw new ExcpFormatException(path, null, "not an ExCP chain index (bad magic or truncated).");
        var body = bytes.AsSpan(0, bytes.Length - 4);
        if (Crc32C.Compute(body) != BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(bytes.Length - 4)))
            throw new ExcpFormatException(path, null, "index checksum mismatch (corrupt index; ExcpChain.RebuildIndex can recreate it).");
        try
        {
            var r = new ByteReader(body);
            r.Bytes(8);
            int v = r.I32();
            if (v != IndexVersion) throw new ByteReaderException($"unsupported index version {v}");
            int n = r.Count("entry", 1 << 24);
            var list = new List<ExcpChainEntry>();
            for (int i = 0; i < n; i++)
            {
                var e = new ExcpChainEntry(r.I64(), r.Str(), r.I64(), r.Bool(), r.Bytes(r.Count("hash byte", 64)).ToArray(), r.I64());
                if (e.FileName.Contains('/') || e.FileName.Contains('\\') || e.FileName.Contains("..")) throw new ByteReaderException($"invalid file name '{e.FileName}'");
                if (list.Count > 0 && e.Step <= list[^1].Step) throw new ByteReaderException("steps are not increasing");
                list.Add(e);
            }
            r.End("index");
            return list;
        }
        catch (ByteReaderException e) { throw new ExcpFormatException(path, null, $"index: {e.Message}"); }
    }
}

using System.Diagnostics;
using MLNetExtensions.Transforms.Excp;
using Xunit;
using Xunit.Abstractions;

namespace MLNetExtensions.Tests.Excp;

/// <summary>
/// Seeded fuzzing of the link format: thousands of mutated / truncated / spliced files must either decode to exactly
/// the original checkpoint or raise <see cref="ExcpFormatException"/> — never another exception, never a hang.
/// </summary>
public sealed class ExcpFuzzTests(ITestOutputHelper output)
{
    [Fact]
    public void Mutated_and_truncated_links_only_ever_raise_the_format_exception()
    {
        var ckpts = SyntheticTraining.Run(11, 2, layout: new (string, long[])[] { ("w", new long[] { 24, 16 }), ("b", new long[] { 24 }) });
        var o = new ExcpOptions { Alpha = 2e-3, ZstdLevel = 3 };
        var key = ExcpCodec.Compress(ckpts[0], null, o);
        var link = ExcpCodec.Compress(ckpts[1], key.Reconstruction, o);
        var seeds = new[] { (Bytes: ExcpFile.Serialize(key.Link), Parent: (TrainingCheckpoint?)null, Hash: key.Link.ReconstructionHash),
                            (Bytes: ExcpFile.Serialize(link.Link), Parent: key.Reconstruction, Hash: link.Link.ReconstructionHash) };

        var rng = new Random(20240611);
        int total = 0, rejected = 0, identical = 0;
        var kinds = new Dictionary<string, int>();
        var sw = Stopwatch.StartNew();
        long slowest = 0;
        for (int it = 0; it < 20000; it++)
        {
            var (orig, parent, hash) = seeds[it % 2];
            var (bytes, kind) = Mutate(orig, rng);
            long t0 = sw.ElapsedTicks;
            total++;
            try
            {
                var decoded = ExcpCodec.Decode(ExcpFile.Deserialize(bytes, $"fuzz#{it}"), parent, $"fuzz#{it}");
                // Anything that decodes must be the original checkpoint (the reconstruction hash is checked inside).
                Assert.Equal(hash, decoded.ContentHash());
                identical++;
            }
            catch (ExcpFormatException e)
            {
                rejected++;
                Assert.Contains($"fuzz#{it}", e.Message);
                kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
            }
            slowest = Math.Max(slowest, sw.ElapsedTicks - t0);
        }
        sw.Stop();
        output.WriteLine($"{total} mutated files in {sw.Elapsed.TotalSeconds:F2} s: {rejected} rejected with ExcpFormatException, {identical} decoded unchanged; slowest {slowest * 1000.0 / Stopwatch.Frequency:F1} ms");
        output.WriteLine(string.Join(", ", kinds.OrderBy(k => k.Key).Select(k => $"{k.Key}: {k.Value}")));
        Assert.True(rejected > total * 0.95);
        Assert.True(slowest * 1000.0 / Stopwatch.Frequency < 10_000, "no single file may take long (hang guard; speed is measured in the benchmarks, not here)");
    }

    [Fact]
    public void With_checksums_off_the_parser_and_zstd_behind_them_still_only_raise_the_format_exception()
    {
        // Checksums catch nearly every mutation before parsing; switch them off to fuzz the parser, the zstd decoder and
        // the decoder's consistency checks themselves.
        var ckpts = SyntheticTraining.Run(13, 2, layout: new (string, long[])[] { ("w", new long[] { 24, 16 }), ("b", new long[] { 24 }) });
        var o = new ExcpOptions { Alpha = 2e-3, ZstdLevel = 3 };
        var key = ExcpCodec.Compress(ckpts[0], null, o);
        var link = ExcpCodec.Compress(ckpts[1], key.Reconstruction, o);
        var bytes = ExcpFile.Serialize(link.Link);
        var rng = new Random(99);
        int rejected = 0, ok = 0;
        var sw = Stopwatch.StartNew();
        for (int it = 0; it < 3000; it++)
        {
            var (m, _) = Mutate(bytes, rng);
            try
            {
                var d = ExcpCodec.Decode(ExcpFile.Deserialize(m, "nocrc", verifyChecksums: false), key.Reconstruction, "nocrc");
                Assert.Equal(link.Link.ReconstructionHash, d.ContentHash());
                ok++;
            }
            catch (ExcpFormatException) { rejected++; }
        }
        output.WriteLine($"3000 mutated files without checksums in {sw.Elapsed.TotalSeconds:F2} s: {rejected} rejected, {ok} decoded unchanged");
    }

    [Fact]
    public void Mutated_chain_indexes_only_ever_raise_the_format_exception()
    {
        var dir = Path.Combine(Path.GetTempPath(), "excp-fuzzidx-" + Guid.NewGuid().ToString("N"));
        try
        {
            var ckpts = SyntheticTraining.Run(12, 3, layout: new (string, long[])[] { ("w", new long[] { 8, 8 }) });
            var chain = ExcpChain.Open(dir, new ExcpOptions { Alpha = 2e-3, ZstdLevel = 3 });
            foreach (var c in ckpts) chain.Append(c);
            var orig = File.ReadAllBytes(chain.IndexPath);
            var rng = new Random(7);
            int rejected = 0;
            for (int it = 0; it < 500; it++)
            {
                File.WriteAllBytes(chain.IndexPath, Mutate(orig, rng).Bytes);
                try { ExcpChain.Open(dir).Read(ckpts[^1].Step); }
                catch (ExcpFormatException e) { rejected++; Assert.Contains(ExcpChain.IndexFileName, e.Message); }
            }
            output.WriteLine($"500 mutated indexes: {rejected} rejected");
            Assert.True(rejected > 450);
        }
        finally { Directory.Delete(dir, true); }
    }

    private static (byte[] Bytes, string Kind) Mutate(byte[] orig, Random rng)
    {
        var b = (byte[])orig.Clone();
        switch (rng.Next(7))
        {
            case 0:
                for (int i = 0, n = rng.Next(1, 5); i < n; i++) b[rng.Next(b.Length)] ^= (byte)(1 << rng.Next(8));
                return (b, "bitflip");
            case 1:
                for (int i = 0, n = rng.Next(1, 9); i < n; i++) b[rng.Next(b.Length)] = (byte)rng.Next(256);
                return (b, "byte overwrite");
            case 2:
                return (b[..rng.Next(b.Length)], "truncation");
            case 3:
                {
                    // Header-only damage (most sensitive fields).
                    int p = rng.Next(Math.Min(136, b.Length));
                    b[p] = (byte)rng.Next(256);
                    return (b, "header byte");
                }
            case 4:
                {
                    int p = rng.Next(b.Length), n = rng.Next(1, 64);
                    var ins = new byte[n]; rng.NextBytes(ins);
                    return (b[..p].Concat(ins).Concat(b[p..]).ToArray(), "insertion");
                }
            case 5:
                {
                    int p = rng.Next(b.Length), n = Math.Min(rng.Next(1, 64), b.Length - p);
                    return (b[..p].Concat(b[(p + n)..]).ToArray(), "deletion");
                }
            default:
                {
                    // Swap two blocks (plausible but misplaced content).
                    int n = rng.Next(1, Math.Max(2, b.Length / 8)), p = rng.Next(b.Length - n), q = rng.Next(b.Length - n);
                    var tmp = b.AsSpan(p, n).ToArray();
                    b.AsSpan(q, n).CopyTo(b.AsSpan(p, n));
                    tmp.CopyTo(b.AsSpan(q, n));
                    return (b, "block swap");
                }
        }
    }
}

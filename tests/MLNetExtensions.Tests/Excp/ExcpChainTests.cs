using MLNetExtensions.Core.IO;
using System.Buffers.Binary;
using MLNetExtensions.Transforms.Excp;
using Xunit;
using Xunit.Abstractions;

namespace MLNetExtensions.Tests.Excp;

public sealed class ExcpChainTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "excp-test-" + Guid.NewGuid().ToString("N"));
    public void Dispose() { if (Directory.Exists(_dir)) Directory.Delete(_dir, true); }

    private static readonly ExcpOptions Small = new() { Alpha = 2e-3, ZstdLevel = 3 };

    [Fact]
    public void Chain_round_trips_any_step_after_reopening_and_closed_loop_beats_open_loop()
    {
        var ckpts = SyntheticTraining.Run(1, 6);
        var chain = ExcpChain.Open(_dir, Small);
        var recons = ckpts.Select(c => chain.Append(c)).ToList();
        Assert.True(recons[0].Entry.IsKeyFrame);
        Assert.All(recons.Skip(1), r => Assert.False(r.Entry.IsKeyFrame));
        foreach (var r in recons.Skip(1))
            output.WriteLine($"step {r.Entry.Step}: {r.CompressedBytes} B, ratio {r.Ratio:F1}x, weights kept {r.Statistics["fc1.weight"].WeightKeptFraction:P1}, moments kept {r.Statistics["fc1.weight"].MomentKeptFraction:P1}");

        var reopened = ExcpChain.Open(_dir);
        Assert.Equal(ckpts.Select(c => c.Step), reopened.Entries.Select(e => e.Step));
        foreach (var i in new[] { 3, 1, 5, 0 })
            Assert.Equal(recons[i].Reconstruction.ContentHash(), reopened.Read(ckpts[i].Step).ContentHash());

        // Default mode: the true Adam step, hyper-parameters, lossless buffers and extras come back.
        var last = reopened.Read(ckpts[^1].Step);
        Assert.Equal(ckpts[^1].Step, last["fc1.weight"].Adam!.Step);
        Assert.Equal(ckpts[^1]["bn.running_mean"].Values, last["bn.running_mean"].Values);
        Assert.Null(last["bn.running_mean"].Adam);
        Assert.Equal(ckpts[^1].Extras["scheduler"], last.Extras["scheduler"]);
        Assert.Equal(ckpts[^1].Optimizer, last.Optimizer);

        // Closed loop (residual against the decoded parent) vs open loop (against the raw parent) after 5 links.
        TrainingCheckpoint open = ckpts[0];
        for (int i = 1; i < ckpts.Count; i++)
        {
            var link = ExcpCodec.Compress(ckpts[i], ckpts[i - 1], Small with { }).Link;
            // Decoding an open-loop link on the drifting decoded chain: apply its residuals to our running reconstruction.
            open = ApplyOpenLoop(link, open);
        }
        double closed = SyntheticTraining.Rmse(ckpts[^1]["fc1.weight"].Values, last["fc1.weight"].Values);
        double openErr = SyntheticTraining.Rmse(ckpts[^1]["fc1.weight"].Values, open["fc1.weight"].Values);
        output.WriteLine($"fc1.weight RMSE after 5 links: closed loop {closed:E3}, open loop {openErr:E3}");
        Assert.True(closed < openErr, $"closed loop {closed} should beat open loop {openErr}");
    }

    private static TrainingCheckpoint ApplyOpenLoop(ExcpLink link, TrainingCheckpoint decoded) =>
        new(link.Step, link.Tensors.Select(t =>
        {
            if (t.Encoding == TensorEncoding.Lossless) return new CheckpointParameter(t.Name, t.Shape, t.Values!, t.Adam);
            var w = (float[])decoded[t.Name].Values.Clone();
            for (int i = 0, a = 0; i < w.Length; i++) if (t.WeightMask![i]) w[i] += t.Residual![a++];
            return new CheckpointParameter(t.Name, t.Shape, w, decoded[t.Name].Adam);
        }));

    [Fact]
    public void Key_frames_bound_what_a_read_needs_and_missing_links_are_named()
    {
        var ckpts = SyntheticTraining.Run(2, 7);
        var chain = ExcpChain.Open(_dir, Small with { KeyFrameInterval = 3 });
        foreach (var c in ckpts) chain.Append(c);
        Assert.Equal(new[] { true, false, false, true, false, false, true }, chain.Entries.Select(e => e.IsKeyFrame));
        var expected = ExcpChain.Open(_dir).Read(ckpts[5].Step).ContentHash();

        // Step 5 needs only links 3..5: deleting link 1 does not matter for it, but breaks step 2.
        var lost = Path.Combine(_dir, chain.Entries[1].FileName);
        File.Delete(lost);
        var fresh = ExcpChain.Open(_dir);
        Assert.Equal(expected, fresh.Read(ckpts[5].Step).ContentHash());
        var ex = Assert.Throws<ExcpFormatException>(() => fresh.Read(ckpts[2].Step));
        Assert.Equal(lost, ex.FilePath);
        Assert.Equal(ckpts[1].Step, ex.Step);
        Assert.Contains("missing", ex.Message);
        var report = fresh.Verify();
        Assert.Equal(new[] { true, false, false, true, true, true, true }, report.Select(r => r.Ok));
    }

    [Fact]
    public void Corrupt_truncated_and_foreign_files_raise_ExcpFormatException_naming_file_and_step()
    {
        var ckpts = SyntheticTraining.Run(3, 3);
        var chain = ExcpChain.Open(_dir, Small);
        foreach (var c in ckpts) chain.Append(c);
        var path = Path.Combine(_dir, chain.Entries[1].FileName);
        var good = File.ReadAllBytes(path);

        // A flipped byte deep inside a tensor section.
        var bad = (byte[])good.Clone();
        bad[^10] ^= 0x40;
        File.WriteAllBytes(path, bad);
        var ex = Assert.Throws<ExcpFormatException>(() => ExcpChain.Open(_dir).Read(ckpts[2].Step));
        Assert.Equal(path, ex.FilePath);
        Assert.Equal(ckpts[1].Step, ex.Step);
        Assert.Contains("checksum", ex.Message);
        var report = ExcpChain.Open(_dir).Verify();
        Assert.Equal(new[] { true, false, false }, report.Select(r => r.Ok));

        // Truncation.
        File.WriteAllBytes(path, good[..(good.Length / 2)]);
        ex = Assert.Throws<ExcpFormatException>(() => ExcpChain.Open(_dir).Read(ckpts[1].Step));
        Assert.Contains("truncated", ex.Message);
        Assert.Equal(ckpts[1].Step, ex.Step);

        // A newer format version (header re-checksummed so only the version is wrong).
        var v2 = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(v2.AsSpan(8), 2);
        BinaryPrimitives.WriteUInt32LittleEndian(v2.AsSpan(132), Crc32C.Compute(v2.AsSpan(0, 132)));
        File.WriteAllBytes(path, v2);
        ex = Assert.Throws<ExcpFormatException>(() => ExcpFile.Read(path));
        Assert.Contains("version 2", ex.Message);

        // Not an ExCP file at all (the chain still names the step, from its index); and a corrupt index.
        File.WriteAllText(path, "hello");
        Assert.Null(Assert.Throws<ExcpFormatException>(() => ExcpFile.Read(path)).Step);
        ex = Assert.Throws<ExcpFormatException>(() => ExcpChain.Open(_dir).Read(ckpts[1].Step));
        Assert.Equal(ckpts[1].Step, ex.Step);
        Assert.Contains("header", ex.Message);
        File.WriteAllBytes(path, good);
        var idx = File.ReadAllBytes(chain.IndexPath);
        idx[20] ^= 1;
        File.WriteAllBytes(chain.IndexPath, idx);
        ex = Assert.Throws<ExcpFormatException>(() => ExcpChain.Open(_dir));
        Assert.Equal(chain.IndexPath, ex.FilePath);
        // The index can be rebuilt from the link headers.
        var rebuilt = ExcpChain.RebuildIndex(_dir);
        Assert.Equal(chain.Entries.Select(e => e.Step), rebuilt.Entries.Select(e => e.Step));
        Assert.Equal(chain.Entries[2].ReconstructionHash, rebuilt.Entries[2].ReconstructionHash);
        Assert.All(rebuilt.Verify(), r => Assert.True(r.Ok, r.Message));
    }

    [Fact]
    public void A_caller_mutating_a_returned_reconstruction_cannot_poison_the_chain()
    {
        var ckpts = SyntheticTraining.Run(7, 3);
        var chain = ExcpChain.Open(_dir, Small);
        chain.Append(ckpts[0]);
        var r = chain.Append(ckpts[1]);
        var expected = r.Reconstruction.ContentHash();
        r.Reconstruction["fc1.weight"].Values[0] += 1f; // e.g. a trainer reusing the arrays
        Assert.Equal(expected, chain.Read(ckpts[1].Step).ContentHash());
        chain.Append(ckpts[2]);
        Assert.All(ExcpChain.Open(_dir).Verify(), v => Assert.True(v.Ok, v.Message));
    }

    [Fact]
    public void A_link_refuses_the_wrong_parent()
    {
        var ckpts = SyntheticTraining.Run(4, 3);
        var c1 = ExcpCodec.Compress(ckpts[1], ckpts[0], Small);
        var c2 = ExcpCodec.Compress(ckpts[2], c1.Reconstruction, Small);
        var ex = Assert.Throws<ExcpFormatException>(() => ExcpCodec.Decode(c2.Link, ckpts[1]));
        Assert.Contains("parent mismatch", ex.Message);
        Assert.Equal(c2.Reconstruction.ContentHash(), ExcpCodec.Decode(c2.Link, c1.Reconstruction).ContentHash());
    }

    [Fact]
    public void Atomic_write_never_destroys_the_previous_file()
    {
        Directory.CreateDirectory(_dir);
        var path = Path.Combine(_dir, "x.excp");
        AtomicFile.WriteAllBytes(path, new byte[] { 1, 2, 3 });
        Assert.Throws<IOException>(() => AtomicFile.Write(path, s => { s.Write(new byte[1000]); throw new IOException("disk full (simulated crash)"); }));
        Assert.Equal(new byte[] { 1, 2, 3 }, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(_dir)); // no temp file left behind
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 8)]
    [InlineData(8, 4)]
    public void Odd_shapes_and_other_bit_widths_round_trip(int wbits, int mbits)
    {
        // [7, 5]: odd element count and odd last dimension, where the official reshape fails; we pad.
        var layout = new (string, long[])[] { ("odd", new long[] { 7, 5 }), ("wide", new long[] { 3, 301 }), ("scalar", Array.Empty<long>()) };
        var ckpts = SyntheticTraining.Run(5, 3, layout: layout);
        var o = Small with { WeightBits = wbits, MomentBits = mbits, Alpha = 1e-4 };
        var chain = ExcpChain.Open(_dir, o);
        var last = ckpts.Select(c => chain.Append(c)).ToList()[^1];
        Assert.Equal(last.Reconstruction.ContentHash(), ExcpChain.Open(_dir).Read(ckpts[^1].Step).ContentHash());
        Assert.Null(LabelPacking.OfficialPackedShape(new long[] { 2, 5 }, 4));
        // Fewer bits → fewer distinct values in the decoded residual.
        var r = ExcpChain.Open(_dir).Read(ckpts[^1].Step);
        var prev = ExcpChain.Open(_dir).Read(ckpts[^2].Step);
        var distinct = r["wide"].Values.Zip(prev["wide"].Values, (a, b) => a - b).Where(x => x != 0).Count();
        Assert.True(distinct > 0);
        Assert.Equal(1 << mbits, 1 + ExcpOptions.Centroids(mbits));
    }

    [Fact]
    public void Bad_input_is_rejected_with_clear_messages()
    {
        var ckpts = SyntheticTraining.Run(6, 2);
        Assert.Contains("WeightBits", Assert.Throws<ArgumentException>(() => ExcpCodec.Compress(ckpts[1], ckpts[0], new ExcpOptions { WeightBits = 3 })).Message);
        var nan = new TrainingCheckpoint(99, new[] { new CheckpointParameter("w", new long[] { 2 }, new[] { 1f, float.NaN }, new AdamState(new float[2], new float[2], 1)) });
        Assert.Contains("NaN", Assert.Throws<ArgumentException>(() => ExcpCodec.Compress(nan, null, new ExcpOptions())).Message);
        Assert.Contains("needs 6 values", Assert.Throws<ArgumentException>(() => new TrainingCheckpoint(1, new[] { new CheckpointParameter("w", new long[] { 2, 3 }, new float[5]) })).Message);
        var chain = ExcpChain.Open(_dir, Small);
        chain.Append(ckpts[1]);
        Assert.Contains("must be greater", Assert.Throws<ArgumentException>(() => chain.Append(ckpts[0])).Message);
    }
}

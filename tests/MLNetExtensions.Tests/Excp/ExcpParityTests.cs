using MLNetExtensions.Transforms.Excp;
using MLNetExtensions.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace MLNetExtensions.Tests.Excp;

/// <summary>Official-compatibility mode against the fixture made with the unmodified official code (method note §8).</summary>
public sealed class ExcpParityTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Cases() =>
        from l in new[] { "link1", "link2" } from n in ExcpFixture.Names select new object[] { l, n };

    private static float[] Parent(string link, string tensor) =>
        link == "link1" ? ExcpFixture.F("link1", tensor, "w_prev") : ExcpFixture.F("link1", tensor, "w_recon");

    [ParityFact]
    public void Masks_thresholds_codebooks_labels_and_packing_match_official()
    {
        foreach (var c in Cases()) CheckTensor((string)c[0], (string)c[1]);
    }

    private void CheckTensor(string link, string name)
    {
        var j = ExcpFixture.TensorJson(link, name);
        var cur = ExcpFixture.Current(link)[name];
        var parent = Parent(link, name);
        var enc = ExcpCodec.EncodeTensor(cur, parent, ExcpFixture.Official);
        var st = enc.Statistics!;
        int n = cur.Values.Length;

        // 1. thresholds (float tolerance) and masks (exact)
        var wj = j.GetProperty("weight_mask");
        Assert.Equal(wj.GetProperty("threshold").GetDouble(), st.Weight!.Value.Threshold, wj.GetProperty("threshold").GetDouble() * 1e-6);
        Assert.Equal(wj.GetProperty("multiplier_used").GetDouble(), st.Weight.Value.Multiplier, 1e-6 * wj.GetProperty("multiplier_used").GetDouble());
        Assert.Equal(wj.GetProperty("clamped_to_2_5").GetBoolean(), st.Weight.Value.Clamped);
        var mj = j.GetProperty("momentum_mask");
        Assert.Equal(mj.GetProperty("threshold").GetDouble(), st.MomentumThreshold!.Value, mj.GetProperty("threshold").GetDouble() * 1e-6);
        Assert.Equal(wj.GetProperty("kept").GetInt64(), st.WeightKept);
        Assert.Equal(mj.GetProperty("kept").GetInt64(), st.MomentKept);
        var wmask = ExcpFixture.I(link, name, "weight_mask");
        var omask = ExcpFixture.I(link, name, "momentum_mask");
        var omaskOurs = new bool[n];
        for (int i = 0, a = 0; i < n; i++)
        {
            Assert.True(wmask[i] == 1 == enc.WeightMask![i], $"{link}/{name}: weight mask differs at {i}");
            if (enc.WeightMask[i]) omaskOurs[i] = enc.MomentMask![a++];
            Assert.True(omask[i] == 1 == omaskOurs[i], $"{link}/{name}: momentum mask differs at {i}");
        }

        // 2-3. per stream: codebooks bit-exact, labels exact, packed bytes exact (or the raw fallback)
        foreach (var (stream, q, support) in new[] { ("weights", enc.Residual!, enc.WeightMask!), ("exp_avg", enc.ExpAvg!, omaskOurs), ("exp_avg_sq", enc.ExpAvgSq!, omaskOurs) })
        {
            var sj = j.GetProperty("streams").GetProperty(stream);
            bool quantized = sj.GetProperty("quantized").GetBoolean();
            Assert.Equal(quantized, q.Encoding == StreamEncoding.Quantized);
            var dense = new float[n];
            var labels = new byte[n];
            for (int i = 0, a = 0; i < n; i++)
                if (support[i]) { dense[i] = q[a]; if (quantized) labels[i] = q.Codes![a]; a++; }
            if (!quantized)
            {
                Assert.Equal(ExcpFixture.F(link, name, stream + "_stored_raw"), dense);
                continue;
            }
            Assert.Equal(ExcpFixture.F(link, name, stream + "_codebook_f32"), q.TrainedCodebook!);
            Assert.Equal(ExcpFixture.F(link, name, stream + "_codebook_f16"), q.Codebook!);
            Assert.Equal(ExcpFixture.I(link, name, stream + "_labels").Select(x => (byte)x).ToArray(), labels);
            var packed = LabelPacking.Pack(labels, 4);
            Assert.Equal(ExcpFixture.I(link, name, stream + "_packed").Select(x => (byte)x).ToArray(), packed);
            Assert.Equal(ExcpFixture.Shape(link, name, stream + "_packed"), LabelPacking.OfficialPackedShape(cur.Shape, 4));
            Assert.Equal(labels, LabelPacking.Unpack(packed, 4, n));
        }
    }

    [ParityFact]
    public void Chain_reconstruction_matches_official_recon_exactly()
    {
        // Link 1 against the raw base, link 2 against OUR link-1 reconstruction (closed loop, as the official chain).
        var c1 = ExcpCodec.Compress(ExcpFixture.Current("link1"), ExcpFixture.Base(), ExcpFixture.Official);
        var c2 = ExcpCodec.Compress(ExcpFixture.Current("link2"), c1.Reconstruction, ExcpFixture.Official);
        foreach (var (link, rec) in new[] { ("link1", c1.Reconstruction), ("link2", c2.Reconstruction) })
        {
            foreach (var name in ExcpFixture.Names)
            {
                var p = rec[name];
                Assert.Equal(ExcpFixture.F(link, name, "w_recon"), p.Values);
                Assert.Equal(ExcpFixture.F(link, name, "exp_avg_recon"), p.Adam!.ExpAvg);
                Assert.Equal(ExcpFixture.F(link, name, "exp_avg_sq_recon"), p.Adam.ExpAvgSq);
                // Official recon inherits the reference's optimizer.pt: step frozen at the base's 200.
                Assert.Equal(200, p.Adam.Step);
                var err = ExcpFixture.TensorJson(link, name).GetProperty("reconstruction_error");
                var cur = ExcpFixture.Current(link)[name].Values;
                double rmse = Math.Sqrt(cur.Zip(p.Values, (a, b) => (double)(a - b) * (a - b)).Average());
                Assert.Equal(err.GetProperty("weights_rmse").GetDouble(), rmse, 1e-7);
                output.WriteLine($"{link}/{name}: weights RMSE {rmse:E4} (official {err.GetProperty("weights_rmse").GetDouble():E4})");
            }
            // Same bytes after a trip through our file format.
            var linkObj = link == "link1" ? c1.Link : c2.Link;
            var parent = link == "link1" ? ExcpFixture.Base() : c1.Reconstruction;
            var back = ExcpCodec.Decode(ExcpFile.Deserialize(ExcpFile.Serialize(linkObj), link), parent);
            Assert.Equal(rec.ContentHash(), back.ContentHash());
        }
        // Container size vs the official compressed.pt + 7-Zip (the published sizes include that external pass).
        foreach (var (link, c) in new[] { ("link1", c1), ("link2", c2) })
        {
            var sizes = ExcpFixture.Json.GetProperty("links").GetProperty(link).GetProperty("sizes");
            long ours = ExcpFile.Serialize(c.Link).Length;
            long official7z = sizes.GetProperty("official_compressed_pt").GetProperty("7z_default").GetInt64();
            long raw = sizes.GetProperty("raw_fp32_weights_plus_two_moments_bytes").GetInt64();
            output.WriteLine($"{link}: our file {ours} B vs official compressed.pt {sizes.GetProperty("official_compressed_pt").GetProperty("uncompressed").GetInt64()} B / +7z {official7z} B; raw {raw} B -> {(double)raw / ours:F1}x");
            Assert.True(ours < official7z, $"{link}: {ours} B should beat official + 7z {official7z} B");
        }

        var json = ExcpFixture.Json.GetProperty("chain_open_loop_contrast_link2");
        foreach (var name in ExcpFixture.Names)
        {
            var cur = ExcpFixture.Current("link2")[name].Values;
            double rmse = Math.Sqrt(cur.Zip(c2.Reconstruction[name].Values, (a, b) => (double)(a - b) * (a - b)).Average());
            Assert.Equal(json.GetProperty(name).GetProperty("closed_loop_rmse").GetDouble(), rmse, 1e-7);
        }
    }

    [ParityFact]
    public void A_kept_floor_unfreezes_the_clamped_tensor_of_pitfall_12()
    {
        // blk0.qkv.weight: multiplier clamped at 2.5 on a narrow |R| distribution, 1/6144 kept in link 2 (official).
        var official = ExcpCodec.EncodeTensor(ExcpFixture.Current("link2")["blk0.qkv.weight"], ExcpFixture.F("link1", "blk0.qkv.weight", "w_recon"), new ExcpOptions());
        Assert.Equal(1, official.Statistics!.WeightKept);
        var floor = ExcpCodec.EncodeTensor(ExcpFixture.Current("link2")["blk0.qkv.weight"], ExcpFixture.F("link1", "blk0.qkv.weight", "w_recon"), new ExcpOptions { MinWeightKeptFraction = 0.05 });
        Assert.InRange(floor.Statistics!.WeightKept, 308, 320); // ⌈0.05·6144⌉ = 308 largest |R|
        var rec = ExcpCodec.Reconstruct(new ExcpLink { Step = 300, IsKeyFrame = false, ParentStep = 250, ParentHash = [], ReconstructionHash = [], Options = new ExcpOptions(), Tensors = new[] { floor } },
            new TrainingCheckpoint(250, new[] { new CheckpointParameter("blk0.qkv.weight", new long[] { 96, 64 }, ExcpFixture.F("link1", "blk0.qkv.weight", "w_recon"), new AdamState(new float[6144], new float[6144], 250)) }));
        var truth = ExcpFixture.Current("link2")["blk0.qkv.weight"].Values;
        double rmse = SyntheticTraining.Rmse(truth, rec["blk0.qkv.weight"].Values);
        double officialRmse = ExcpFixture.TensorJson("link2", "blk0.qkv.weight").GetProperty("reconstruction_error").GetProperty("weights_rmse").GetDouble();
        output.WriteLine($"blk0.qkv.weight link 2 RMSE: official {officialRmse:E3}, with a 5 % floor {rmse:E3}");
        Assert.True(rmse < officialRmse);
    }

    [ParityFact]
    public void Default_mode_keeps_small_second_moments_and_the_true_step()
    {
        var compat = ExcpCodec.Compress(ExcpFixture.Current("link1"), ExcpFixture.Base(), ExcpFixture.Official).Reconstruction;
        var better = ExcpCodec.Compress(ExcpFixture.Current("link1"), ExcpFixture.Base(), new ExcpOptions()).Reconstruction;
        const string name = "blk0.fc1.weight";
        var m = better[name].Adam!;
        int zeroCompat = 0, zeroBetter = 0, kept = 0;
        double relErr = 0, norm = 0;
        var truth = ExcpFixture.Current("link1")[name].Adam!.ExpAvgSq;
        for (int i = 0; i < m.ExpAvg.Length; i++)
        {
            if (m.ExpAvg[i] == 0) continue;
            kept++;
            if (compat[name].Adam!.ExpAvgSq[i] == 0) zeroCompat++;
            if (m.ExpAvgSq[i] == 0) zeroBetter++;
            relErr += Math.Pow(m.ExpAvgSq[i] - truth[i], 2); norm += Math.Pow(truth[i], 2);
        }
        output.WriteLine($"kept {kept}: exp_avg_sq reconstructed as 0 at {zeroCompat} (official fp16) vs {zeroBetter} (float32 codebook); rel L2 on kept {Math.Sqrt(relErr / norm):F4}");
        Assert.Equal(ExcpFixture.TensorJson("link1", name).GetProperty("reconstruction_error").GetProperty("kept_entries_with_exp_avg_sq_recon_zero").GetInt32(), zeroCompat);
        Assert.Equal(0, zeroBetter);
        Assert.True(Math.Sqrt(relErr / norm) < 0.2, "float32 codebook should reconstruct kept second moments closely");
        Assert.Equal(250, m.Step);
        Assert.Equal(200, compat[name].Adam!.Step);
        // Masks do not depend on the codebook precision: same surviving residual and moment entries in both modes.
        var parent = ExcpFixture.F("link1", name, "w_prev");
        Assert.Equal(compat[name].Values.Select((v, i) => v != parent[i]), better[name].Values.Select((v, i) => v != parent[i]));
        Assert.Equal(compat[name].Adam!.ExpAvg.Select(v => v != 0), m.ExpAvg.Select(v => v != 0));
    }
}

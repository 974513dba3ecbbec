using MLNetExtensions.Tests.Infrastructure;
using MLNetExtensions.Transforms.GeminiFusion;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.GeminiFusion;

/// <summary>Behaviour of the GeminiFusion network beyond the fixture: N modalities, MiT variants, outputs, loss.</summary>
public sealed class GeminiFusionModelTests
{
    /// <summary>
    /// The official computation, written the official way: a loop over images, LibTorch's own MultiheadAttention
    /// called with the tokens as its batch axis (query length 1 against the key set of that token), keys
    /// [x_a + ε_k[a], x_a ⊙ r(a←b) for b ≠ a], values [x_a + ε_v[a], x_b for b ≠ a], then the residual.
    /// </summary>
    private static Tensor[] ReferenceFusion(GeminiFusionLayer fusion, IReadOnlyList<Tensor> x)
    {
        int m = x.Count;
        long batch = x[0].shape[0];
        var outputs = new Tensor[m];
        for (int a = 0; a < m; a++)
        {
            using var mha = nn.MultiheadAttention(fusion.Dim, fusion.CrossAttention(a).Heads);
            mha.load_state_dict(fusion.CrossAttention(a).state_dict(), strict: true);
            mha.eval();
            var perImage = new List<Tensor>();
            for (long bs = 0; bs < batch; bs++)
            {
                var q = x[a][bs].unsqueeze(0);                                   // (1, N, C): length 1, batch N
                var keys = new List<Tensor> { fusion.KeyNoise.weight![a] + q };
                var values = new List<Tensor> { fusion.ValueNoise.weight![a] + q };
                for (int b = 0; b < m; b++)
                {
                    if (b == a) continue;
                    var other = x[b][bs].unsqueeze(0);
                    var r = fusion.RelationJudger.call(torch.cat([q, other], -1));
                    keys.Add(q * r);
                    values.Add(other);
                }
                var (o, _) = mha.call(q, torch.cat(keys.ToArray(), 0), torch.cat(values.ToArray(), 0), null, false, null);
                perImage.Add(x[a][bs] + o.squeeze(0));
            }
            outputs[a] = torch.stack(perImage.ToArray());
        }
        return outputs;
    }

    private static Tensor[] RandomTokens(int modalities, long b, long n, long c, int seed)
    {
        var g = new torch.Generator((ulong)seed);
        return Enumerable.Range(0, modalities).Select(_ => torch.randn([b, n, c], generator: g)).ToArray();
    }

    [Fact]
    public void TwoModalities_GeneralisedFusion_EqualsTheOfficialLoopWithLibTorchMha()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(11);
        using var fusion = new GeminiFusionLayer(32, 2, 8);
        // Official-scale weights make the cross key negligible; enlarge the judger and key bias so both paths matter.
        using (torch.no_grad())
            foreach (var p in fusion.parameters()) p.normal_(0, 0.5);
        Assert.Equal(["cross_attn_0_to_1", "cross_attn_1_to_0", "relation_judger", "k_noise", "v_noise"],
            fusion.named_children().Select(c => c.name).ToArray());
        using var _ = torch.no_grad();
        var x = RandomTokens(2, 3, 40, 32, 1);
        var expected = ReferenceFusion(fusion, x);
        var actual = fusion.call(x);
        for (int m = 0; m < 2; m++) SharedData.AssertClose(expected[m], actual[m], 1e-5, $"modality {m}");
        var trace = fusion.Trace(x);
        var crossMean = trace.AttentionWeights[0].select(2, 1).mean().item<float>();
        Assert.InRange(crossMean, 0.02, 0.98); // both keys carry weight, so the comparison covers both paths
    }

    [Fact]
    public void ThreeModalities_EachQueryAttendsToItsOwnTokenAndBothOthers_AsTheReference()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(12);
        using var fusion = new GeminiFusionLayer(16, 3, 8);
        using (torch.no_grad())
            foreach (var p in fusion.parameters()) p.normal_(0, 0.5);
        Assert.Equal(["cross_attn_0_to_1_2", "cross_attn_1_to_0_2", "cross_attn_2_to_0_1", "relation_judger", "k_noise", "v_noise"],
            fusion.named_children().Select(c => c.name).ToArray());
        Assert.Equal(new long[] { 3, 16 }, fusion.KeyNoise.weight!.shape);
        using var _ = torch.no_grad();
        var x = RandomTokens(3, 2, 24, 16, 2);
        var expected = ReferenceFusion(fusion, x);
        var trace = fusion.Trace(x);
        for (int m = 0; m < 3; m++) SharedData.AssertClose(expected[m], trace.Outputs[m], 1e-5, $"modality {m}");
        Assert.Equal(new long[] { 2, 24, 3, 8 }, trace.AttentionWeights[0].shape);
        Assert.Equal(6, trace.Relations.Count);
        // Modality 2 reaches modality 0's output, token by token (token 5 only).
        var x2 = x.Select(t => t.clone()).ToArray();
        x2[2][0, 5].add_(torch.ones(16));
        var y2 = fusion.call(x2);
        var diff = (y2[0] - trace.Outputs[0]).abs().sum(-1);
        Assert.True(diff[0, 5].item<float>() > 1e-3, "modality 2 must change modality 0 at that token");
        Assert.Equal(0f, diff.sum().item<float>() - diff[0, 5].item<float>(), 5);
    }

    [Fact]
    public void FusionLayer_RejectsBadInputs()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new GeminiFusionLayer(32, 1));
        Assert.Throws<ArgumentException>(() => new GeminiFusionLayer(36, 2, 8));
        using var fusion = new GeminiFusionLayer(16, 2);
        var ex = Assert.Throws<ArgumentException>(() => fusion.call([torch.zeros(1, 4, 16)]));
        Assert.Contains("2 modalities", ex.Message);
        Assert.Throws<ArgumentException>(() => fusion.call([torch.zeros(1, 4, 16), torch.zeros(1, 5, 16)]));
        Assert.Throws<ArgumentException>(() => new MitConfig("bad", [36], [1], [1], [1]).Validate());
    }

    [Fact]
    public void Network_ThreeModalities_ForwardBackward_EnsembleIsTheMeanOfDetachedBranches()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(3);
        using var net = new GeminiFusionNetwork(MitConfig.Tiny, numClasses: 5, modalities: 3, embeddingDim: 32);
        var keys = net.state_dict().Keys.ToHashSet();
        Assert.Contains("encoder.block1.0.attn.cross_attn_2_to_0_1.in_proj_weight", keys);
        Assert.Contains("encoder.norm4.ln_2.weight", keys);
        Assert.Contains("encoder.patch_embed1.norm.ln_2.bias", keys);
        Assert.Equal(new long[] { 3, 16 }, net.state_dict()["encoder.block1.0.attn.k_noise.weight"].shape);
        net.train();
        var g = new torch.Generator((ulong)4);
        var images = Enumerable.Range(0, 3).Select(_ => torch.randn([2, 3, 64, 64], generator: g)).ToArray();
        var outputs = net.call(images);
        Assert.Equal(4, outputs.Length);
        foreach (var o in outputs) Assert.Equal(new long[] { 2, 5, 16, 16 }, o.shape);
        SharedData.AssertClose((outputs[0] + outputs[1] + outputs[2]) / 3, outputs[3], 1e-5, "ensemble = mean (alpha = ones)");

        var labels = torch.randint(0, 5, [2, 64, 64], generator: g);
        var loss = GeminiFusionNetwork.Loss(outputs, labels);
        loss.backward();
        Assert.True(float.IsFinite(loss.item<float>()));
        foreach (var name in new[] { "encoder.patch_embed1.proj.module.weight", "encoder.block4.0.attn.k_noise.weight",
                     "encoder.block2.0.attn.relation_judger.0.fc1.weight", "encoder.norm1.ln_2.weight", "decoder.linear_pred.weight", "alpha" })
        {
            var p = net.named_parameters().Single(kv => kv.name == name).parameter;
            Assert.True(p.grad is not null && p.grad.abs().sum().item<float>() > 0, $"{name} has no gradient");
        }

        // Modality 2's input reaches branch 0 through the fusion.
        net.eval();
        using var _ = torch.no_grad();
        var before = net.call(images)[0];
        images[2] = images[2] + 1;
        var after = net.call(images)[0];
        Assert.True((before - after).abs().max().item<float>() > 1e-4);
    }

    [Fact]
    public void EnsembleLoss_ReachesOnlyAlpha_AndTheLossIsTheSumOfPerOutputNll()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(5);
        using var net = new GeminiFusionNetwork(MitConfig.Small, numClasses: 4, embeddingDim: 16);
        var g = new torch.Generator((ulong)6);
        Tensor[] images = [torch.randn([1, 3, 32, 32], generator: g), torch.rand([1, 3, 32, 32], generator: g)];
        var labels = torch.randint(0, 4, [1, 32, 32], generator: g);
        labels[0, 0, ..10] = torch.full(10, 255L, int64);
        var outputs = net.call(images);
        var expected = outputs.Select(o =>
        {
            var up = nn.functional.interpolate(o, size: [32, 32], mode: InterpolationMode.Bilinear, align_corners: false);
            var logp = up.log_softmax(1);
            var valid = labels.ne(255);
            var picked = logp.gather(1, labels.clamp(0, 3).unsqueeze(1)).squeeze(1);
            return -(picked * valid).sum() / valid.sum();
        }).Aggregate((p, q) => p + q);
        var loss = GeminiFusionNetwork.Loss(outputs, labels);
        Assert.Equal(expected.item<float>(), loss.item<float>(), 4);

        GeminiFusionNetwork.Loss([outputs[2]], labels).backward();
        Assert.True(net.Alpha.grad is not null && net.Alpha.grad.abs().sum().item<float>() > 0);
        foreach (var (name, p) in net.named_parameters())
            if (name != "alpha") Assert.True(p.grad is null || p.grad.abs().sum().item<float>() == 0, $"{name} got an ensemble gradient");
        // alpha is in no official optimiser group; LayerNorms are their own group.
        // (Tensor.Equals compares values, so membership is checked by reference.)
        var (enc, norms, dec) = net.ParameterGroups();
        var grouped = new HashSet<object>(enc.Concat(norms).Concat(dec), ReferenceEqualityComparer.Instance);
        Assert.Equal(net.parameters().Count() - 1, grouped.Count);
        Assert.DoesNotContain(net.Alpha, grouped);
        var normSet = new HashSet<object>(norms, ReferenceEqualityComparer.Instance);
        var normNames = net.Encoder.named_parameters().Where(kv => normSet.Contains(kv.parameter)).Select(kv => kv.name).ToList();
        Assert.Equal(norms.Count, normNames.Count);
        Assert.All(normNames, n => Assert.Contains(".ln_", n));
        Assert.Contains("block1.0.attn.norm.ln_1.weight", normNames);
        Assert.DoesNotContain("block1.0.attn.k_noise.weight", normNames);
    }

    [Fact]
    public void FreezeBatchNorm_KeepsTheDecoderBatchNormInEvalDuringTraining()
    {
        using var scope = torch.NewDisposeScope();
        using var net = new GeminiFusionNetwork(MitConfig.Small, numClasses: 3, embeddingDim: 16);
        var bn = net.modules().OfType<TorchSharp.Modules.BatchNorm>().Single();
        net.train();
        Assert.True(net.training);
        Assert.False(bn.training);
        var mean = bn.running_mean!.clone();
        net.call([torch.randn(2, 3, 32, 32) + 3, torch.randn(2, 3, 32, 32) + 3]);
        SharedData.AssertClose(mean, bn.running_mean!, 0, "running mean frozen");
        net.FreezeBatchNorm = false;
        net.train();
        Assert.True(bn.training);
        net.call([torch.randn(2, 3, 32, 32) + 3, torch.randn(2, 3, 32, 32) + 3]);
        Assert.True((bn.running_mean! - mean).abs().max().item<float>() > 1e-4);
    }

    [Fact]
    public void SmallConfig_HasTwoStages_OfficialKeysOnly()
    {
        using var net = new GeminiFusionNetwork(MitConfig.Small, numClasses: 11, embeddingDim: 32);
        var keys = net.state_dict().Keys.ToList();
        Assert.Contains("encoder.patch_embed2.proj.module.weight", keys);
        Assert.Contains("decoder.linear_c2.proj.weight", keys);
        Assert.Contains("decoder.linear_fuse.conv.weight", keys);
        Assert.Contains("decoder.linear_fuse.bn.running_var", keys);
        Assert.DoesNotContain(keys, k => k.Contains("patch_embed3", StringComparison.Ordinal) || k.Contains("linear_c3", StringComparison.Ordinal));
        Assert.Equal(new long[] { 32, 64, 1, 1 }, net.state_dict()["decoder.linear_fuse.conv.weight"].shape);
        Assert.Equal(new long[] { 32, 32, 4, 4 }, net.state_dict()["encoder.block1.0.attn.sr.module.weight"].shape);
    }

    // Exact counts from the official definitions (shared dual-stream part; fusion 11C²+14C per block); the note's table
    // gives them rounded to 0.01M (B0 3.33/2.13, B2 24.22/16.32, B3 44.12/29.89, B5 81.54/55.14).
    [Theory]
    [InlineData("mit_b0", 3_326_560L, 2_131_968L, 5_863_562L)]
    [InlineData("mit_b1", 13_165_760L, 8_499_200L, 22_201_066L)]
    [InlineData("mit_b2", 24_222_272L, 16_323_456L, 41_081_834L)]
    [InlineData("mit_b3", 44_121_152L, 29_894_016L, 74_551_274L)]
    [InlineData("mit_b4", 60_912_064L, 40_800_000L, 102_248_170L)]
    [InlineData("mit_b5", 81_535_808L, 55_137_408L, 137_209_322L)]
    public void OfficialVariants_ParameterCounts(string name, long shared, long fusion, long withHead40)
    {
        var previous = torch.get_default_device();
        torch.set_default_device(torch.META);
        try
        {
            using var net = new GeminiFusionNetwork(MitConfig.Named(name), numClasses: 40);
            long fusionCount = net.Encoder.FusionLayers.Sum(f => f.parameters().Sum(p => p.numel()));
            long encoderCount = net.Encoder.parameters().Sum(p => p.numel());
            Assert.Equal(fusion, fusionCount);
            Assert.Equal(shared, encoderCount - fusionCount);
            Assert.Equal(withHead40, net.parameters().Sum(p => p.numel()));
            var blocks = MitConfig.Named(name).Depths.Sum();
            Assert.Equal(blocks, net.Encoder.FusionLayers.Count());
        }
        finally
        {
            torch.set_default_device(previous);
        }
    }

    [Theory]
    [InlineData("mit_b0")]
    [InlineData("mit_b1")]
    [InlineData("mit_b2")]
    [InlineData("mit_b3")]
    [InlineData("mit_b4")]
    [InlineData("mit_b5")]
    public void OfficialVariants_ForwardBackward_OnATinyInput(string name)
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(7);
        var config = MitConfig.Named(name);
        using var net = new GeminiFusionNetwork(config, numClasses: 3, embeddingDim: 32);
        net.train();
        var g = new torch.Generator((ulong)8);
        Tensor[] images = [torch.randn([1, 3, 32, 32], generator: g), torch.randn([1, 3, 32, 32], generator: g)];
        var features = net.Encoder.call(images);
        for (int s = 0; s < 4; s++)
            Assert.Equal(new long[] { 1, config.EmbedDims[s], 8 >> s, 8 >> s }, features[0][s].shape);
        var outputs = net.call(images);
        Assert.Equal(3, outputs.Length);
        foreach (var o in outputs) Assert.Equal(new long[] { 1, 3, 8, 8 }, o.shape);
        var loss = GeminiFusionNetwork.Loss(outputs, torch.randint(0, 3, [1, 32, 32], generator: g));
        loss.backward();
        Assert.True(float.IsFinite(loss.item<float>()));
        var last = $"encoder.block4.{config.Depths[3] - 1}.attn.cross_attn_1_to_0.in_proj_weight";
        foreach (var key in new[] { "encoder.patch_embed1.proj.module.weight", last, "encoder.block3.0.attn.v_noise.weight" })
        {
            var p = net.named_parameters().Single(kv => kv.name == key).parameter;
            Assert.True(p.grad is not null && p.grad.abs().sum().item<float>() > 0, $"{key} has no gradient");
        }
    }

    [Fact]
    public void Variants_AreTheOfficialConfigs()
    {
        Assert.Equal([32, 64, 160, 256], MitConfig.B0.EmbedDims);
        Assert.Equal([3, 6, 40, 3], MitConfig.Named("MiT-B5").Depths);
        Assert.Equal([3, 8, 27, 3], MitConfig.Named("b4").Depths);
        Assert.All(MitConfig.Official, c => Assert.Equal([8, 4, 2, 1], c.SrRatios));
        Assert.All(MitConfig.Official, c => Assert.Equal([1, 2, 5, 8], c.NumHeads));
        Assert.All(MitConfig.Official, c => Assert.Equal(8, c.CrossHeads));
        var ex = Assert.Throws<ArgumentException>(() => MitConfig.Named("mit_b9"));
        Assert.Contains("mit_b5", ex.Message);
    }
}

using MLNetExtensions.Tests.Infrastructure;
using MLNetExtensions.Transforms.GeminiFusion;
using TorchSharp;
using TorchSharp.PyBridge;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.GeminiFusion;

/// <summary>
/// Parity with the official GeminiFusion code (fixture ../shared/parity/geminifusion, made with JiaDingCN/GeminiFusion
/// models/mix_transformer.py under torch 1.13): one MiT block with GeminiFusion (C=32, 2 self heads, sr 2, 8 cross
/// heads), B=2, 16×16 tokens; tolerance 1e-4.
/// </summary>
public sealed class GeminiFusionParityTests
{
    private const double Atol = 1e-4;
    private const string Dir = "geminifusion";
    private readonly ITestOutputHelper _out;

    public GeminiFusionParityTests(ITestOutputHelper output) => _out = output;

    internal static GeminiMitBlock LoadFixtureBlock()
    {
        var block = new GeminiMitBlock(dim: 32, numHeads: 2, modalities: 2, mlpRatio: 4, qkvBias: true, srRatio: 2, crossHeads: 8);
        block.load_py(SharedData.Parity(Dir, "weights.pt"), strict: true);
        block.eval();
        return block;
    }

    private static Tensor T(string file) => SharedData.Tensor(Dir, file);

    private double Check(string file, Tensor actual, double atol = Atol)
    {
        var err = SharedData.AssertClose(T(file), actual, atol, file);
        _out.WriteLine($"{file}: max abs err {err:E3}");
        return err;
    }

    [ParityFact]
    public void StateDict_KeysAndShapes_EqualOfficial()
    {
        using var block = LoadFixtureBlock();
        using var fixture = SharedData.Fixture(Dir, "fixture.json");
        var expected = fixture.RootElement.GetProperty("state_dict").EnumerateObject()
            .ToDictionary(p => p.Name, p => p.Value.EnumerateArray().Select(e => e.GetInt64()).ToArray());
        var actual = block.state_dict();
        Assert.Equal(expected.Keys.OrderBy(k => k, StringComparer.Ordinal), actual.Keys.OrderBy(k => k, StringComparer.Ordinal));
        foreach (var (k, shape) in expected) Assert.True(shape.SequenceEqual(actual[k].shape), $"{k}: [{string.Join(",", actual[k].shape)}]");
    }

    [ParityFact]
    public void Block_MatchesOfficial_PreFusionPostFusionAndOutput()
    {
        using var scope = torch.NewDisposeScope();
        using var block = LoadFixtureBlock();
        using var _ = torch.inference_mode();
        var trace = block.Trace([T("block_in0.npy"), T("block_in1.npy")], 16, 16);
        for (int m = 0; m < 2; m++)
        {
            Check($"block_prefusion{m}.npy", trace.PreFusion[m]);
            Check($"block_postfusion{m}.npy", trace.PostFusion[m]);
            Check($"block_out{m}.npy", trace.Outputs[m]);
        }
        // The plain forward returns the same outputs.
        var plain = block.call([T("block_in0.npy"), T("block_in1.npy")], 16, 16);
        for (int m = 0; m < 2; m++) SharedData.AssertClose(trace.Outputs[m], plain[m], 0, $"forward vs trace {m}");
        using var fixture = SharedData.Fixture(Dir, "fixture.json");
        var sums = fixture.RootElement.GetProperty("checksums");
        Assert.Equal(sums.GetProperty("block_out0.sum").GetDouble(), plain[0].sum().item<float>(), 0.05);
        Assert.Equal(sums.GetProperty("block_out1.sum").GetDouble(), plain[1].sum().item<float>(), 0.05);
    }

    [ParityFact]
    public void Fusion_MatchesOfficial_OutputsRelationScoresAndAttentionWeights()
    {
        using var scope = torch.NewDisposeScope();
        using var block = LoadFixtureBlock();
        using var _ = torch.inference_mode();
        var trace = block.Attention.Fusion.Trace([T("fusion_in0.npy"), T("fusion_in1.npy")]);
        Check("fusion_out0.npy", trace.Outputs[0]);
        Check("fusion_out1.npy", trace.Outputs[1]);
        Check("fusion_relation01.npy", trace.Relations[(0, 1)], 1e-6);
        Check("fusion_relation10.npy", trace.Relations[(1, 0)], 1e-6);
        Check("fusion_attnw01.npy", trace.AttentionWeights[0]);
        Check("fusion_attnw10.npy", trace.AttentionWeights[1]);

        using var fixture = SharedData.Fixture(Dir, "fixture.json");
        var mean = fixture.RootElement.GetProperty("mean_weight_on_cross_key");
        Assert.Equal(mean.GetProperty("dir01").GetDouble(), trace.AttentionWeights[0].select(2, 1).mean().item<float>(), 1e-4);
        Assert.Equal(mean.GetProperty("dir10").GetDouble(), trace.AttentionWeights[1].select(2, 1).mean().item<float>(), 1e-4);
        // Relation scores are per-token distributions over the channels.
        SharedData.AssertClose(torch.ones(2, 256), trace.Relations[(0, 1)].sum(-1), 1e-5, "relation sums");
    }

    [ParityFact]
    public void StandaloneFusion_LoadsTheAttnFusionEntriesStrictly_AndMatches()
    {
        using var scope = torch.NewDisposeScope();
        using var block = LoadFixtureBlock();
        using var fusion = new GeminiFusionLayer(32, 2, 8);
        var fusionKeys = fusion.state_dict().Keys.ToHashSet();
        var sd = block.state_dict()
            .Where(kv => kv.Key.StartsWith("attn.", StringComparison.Ordinal) && fusionKeys.Contains(kv.Key["attn.".Length..]))
            .ToDictionary(kv => kv.Key["attn.".Length..], kv => kv.Value);
        Assert.Equal(fusionKeys.Count, sd.Count);
        fusion.load_state_dict(sd, strict: true);
        fusion.eval();
        using var _ = torch.inference_mode();
        var y = fusion.call([T("fusion_in0.npy"), T("fusion_in1.npy")]);
        Check("fusion_out0.npy", y[0]);
        Check("fusion_out1.npy", y[1]);
    }

    [ParityFact]
    public void TrainMode_EqualsEvalMode_WithZeroDropout()
    {
        using var scope = torch.NewDisposeScope();
        using var block = LoadFixtureBlock();
        Tensor[] x = [T("block_in0.npy"), T("block_in1.npy")];
        using var _ = torch.no_grad();
        var eval = block.call(x, 16, 16);
        block.train();
        var train = block.call(x, 16, 16);
        for (int m = 0; m < 2; m++) SharedData.AssertClose(eval[m], train[m], 0, $"train vs eval {m}");
        Check("block_out0.npy", train[0]);
    }

    [ParityFact]
    public void Batched_EqualsPerImageLoop_AndImagesAreIndependent()
    {
        using var scope = torch.NewDisposeScope();
        using var block = LoadFixtureBlock();
        using var _ = torch.inference_mode();
        var fusion = block.Attention.Fusion;
        Tensor[] x = [T("fusion_in0.npy"), T("fusion_in1.npy")];
        var batched = fusion.call(x);
        for (long b = 0; b < 2; b++)
        {
            var single = fusion.call([x[0].narrow(0, b, 1), x[1].narrow(0, b, 1)]);
            for (int m = 0; m < 2; m++) SharedData.AssertClose(batched[m].narrow(0, b, 1), single[m], 2e-6, $"image {b} modality {m}");
        }
        // Changing image 1 (both modalities) leaves image 0 untouched, in the fusion and in the whole block.
        var x2 = x.Select(t => t.clone()).ToArray();
        foreach (var t in x2) t.narrow(0, 1, 1).mul_(3.0).add_(1.0);
        var changed = fusion.call(x2);
        for (int m = 0; m < 2; m++)
        {
            SharedData.AssertClose(batched[m].narrow(0, 0, 1), changed[m].narrow(0, 0, 1), 2e-6, "image 0 unchanged");
            Assert.True((batched[m].narrow(0, 1, 1) - changed[m].narrow(0, 1, 1)).abs().max().item<float>() > 1e-2, "image 1 must change");
        }
        var blk = block.call([T("block_in0.npy"), T("block_in1.npy")], 16, 16);
        var bin = new[] { T("block_in0.npy"), T("block_in1.npy") };
        foreach (var t in bin) t.narrow(0, 1, 1).mul_(-2.0);
        var blk2 = block.call(bin, 16, 16);
        SharedData.AssertClose(blk[0].narrow(0, 0, 1), blk2[0].narrow(0, 0, 1), 2e-6, "block image 0 unchanged");
    }

    [ParityFact]
    public void ModalitySwap_SwapsTheOutputs()
    {
        using var scope = torch.NewDisposeScope();
        using var block = LoadFixtureBlock();
        using var swapped = new GeminiMitBlock(32, 2, 2, 4, true, 2, 8);
        var sd = block.state_dict();
        var swappedSd = new Dictionary<string, Tensor>();
        foreach (var (key, value) in sd)
        {
            var k = key.Replace("cross_attn_0_to_1", "#A", StringComparison.Ordinal).Replace("cross_attn_1_to_0", "cross_attn_0_to_1", StringComparison.Ordinal)
                .Replace("#A", "cross_attn_1_to_0", StringComparison.Ordinal)
                .Replace(".ln_0.", ".#L.", StringComparison.Ordinal).Replace(".ln_1.", ".ln_0.", StringComparison.Ordinal).Replace(".#L.", ".ln_1.", StringComparison.Ordinal);
            swappedSd[k] = key.EndsWith("_noise.weight", StringComparison.Ordinal) ? value.flip(0) : value;
        }
        swapped.load_state_dict(swappedSd, strict: true);
        swapped.eval();
        using var _ = torch.inference_mode();
        Tensor[] x = [T("block_in0.npy"), T("block_in1.npy")];
        var y = block.Trace(x, 16, 16);
        var ys = swapped.Trace([x[1], x[0]], 16, 16);
        for (int m = 0; m < 2; m++)
        {
            SharedData.AssertClose(y.Outputs[m], ys.Outputs[1 - m], 1e-6, $"block output {m}");
            SharedData.AssertClose(y.Attention.Fusion.AttentionWeights[m], ys.Attention.Fusion.AttentionWeights[1 - m], 1e-6, $"weights {m}");
        }
        // And the swap really changes something: the unswapped block on swapped inputs differs.
        var plain = block.call([x[1], x[0]], 16, 16);
        Assert.True((plain[0] - y.Outputs[1]).abs().max().item<float>() > 1e-2);
    }

    [ParityFact]
    public void FusionResidual_IsOutProjOfAPerHeadConvexCombinationOfTheProjectedValues()
    {
        using var scope = torch.NewDisposeScope();
        using var block = LoadFixtureBlock();
        using var _ = torch.inference_mode();
        var fusion = block.Attention.Fusion;
        Tensor[] x = [T("fusion_in0.npy"), T("fusion_in1.npy")];
        var trace = fusion.Trace(x);
        for (int a = 0; a < 2; a++)
        {
            var mha = fusion.CrossAttention(a);
            var w = trace.AttentionWeights[a];                                      // (B, N, 2, 8)
            Assert.True(w.min().item<float>() >= 0 && w.max().item<float>() <= 1);
            SharedData.AssertClose(torch.ones(2, 256, 8), w.sum(2), 1e-6, "weights sum to 1 per head");
            var values = new[] { x[a] + fusion.ValueNoise.weight![a], x[1 - a] };
            var wv = mha.InProjWeight.narrow(0, 64, 32);
            var bv = mha.InProjBias.narrow(0, 64, 32);
            var projected = values.Select(t => nn.functional.linear(t, wv, bv).reshape(2, 256, 8, 4)).ToArray();
            var mix = (w.select(2, 0).unsqueeze(-1) * projected[0] + w.select(2, 1).unsqueeze(-1) * projected[1]).reshape(2, 256, 32);
            var expected = mha.OutProj.call(mix);
            SharedData.AssertClose(expected, trace.Outputs[a] - x[a], 1e-5, $"residual {a}");
            SharedData.AssertClose(T(a == 0 ? "fusion_out0.npy" : "fusion_out1.npy") - x[a], expected, Atol, $"official residual {a}");
        }
    }
}

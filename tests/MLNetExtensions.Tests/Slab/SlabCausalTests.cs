using MLNetExtensions.Transforms.Slab;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Slab;

/// <summary>Causal SLA and the SLAB language-model block: no position sees a later one.</summary>
public class SlabCausalTests(ITestOutputHelper log)
{
    private static SlabCausalLMConfig Tiny(LmAttentionKind attn) => new()
    {
        Name = "tiny", VocabSize = 50, HiddenSize = 32, IntermediateSize = 64, NumLayers = 2, NumHeads = 2, MaxPositions = 64,
        Attention = attn, ChunkSize = 8, PRepBN = PRepBNOptions.Llama with { TotalSteps = 10, WarmSteps = 0 },
    };

    [Fact]
    public void ChunkedPrefixSums_EqualMaskedQuadraticForm()
    {
        torch.manual_seed(1);
        using var q = torch.rand(3, 37, 8);
        using var k = torch.rand(3, 37, 8);
        using var v = torch.randn(3, 37, 6);
        using var reference = CausalSimplifiedLinearAttention.QuadraticCausal(q, k, v);
        foreach (var chunk in new[] { 1, 5, 8, 64 })
        {
            using var o = CausalSimplifiedLinearAttention.ChunkedCausal(q, k, v, chunk);
            var err = SlabFixtures.Close(log, reference, o, $"chunk {chunk} vs quadratic", 1e-5);
        }
        // and both equal the definition at one position, computed by hand: o_i = Σ_{j≤i}(q_i·k_j)v_j / (Σ_{j≤i} q_i·k_j + 1e-6)
        const int i = 20;
        using var w = (k.narrow(1, 0, i + 1) * q.narrow(1, i, 1)).sum(-1);            // (3, i+1)
        using var manual = (w.unsqueeze(-1) * v.narrow(1, 0, i + 1)).sum(1) / (w.sum(-1, keepdim: true) + 1e-6);
        SlabFixtures.Close(log, manual, reference.select(1, i), "definition at i=20", 1e-5);
    }

    [Fact]
    public void CausalSla_PerturbingLaterTokens_LeavesEarlierOutputsUnchanged_AndGradientsAreCausal()
    {
        torch.manual_seed(2);
        using var attn = new CausalSimplifiedLinearAttention(32, 2, maxPositions: 40, chunkSize: 8);
        using (torch.no_grad()) foreach (var p in attn.parameters()) p.normal_(0, 0.2); // non-trivial positional term and conv
        AssertCausal(attn, T: 29, t: 12);
    }

    [Theory]
    [InlineData(LmAttentionKind.Sla)]
    [InlineData(LmAttentionKind.SoftmaxRope)]
    public void CausalBlockWithPRepBN_InEval_IsCausal(LmAttentionKind kind)
    {
        torch.manual_seed(3);
        using var block = new SlabCausalBlock(Tiny(kind));
        // Give RepBN non-trivial running statistics and affine (the LLaMA init starts it at zero).
        block.train();
        using (var warmup = torch.randn(4, 20, 32)) block.call(warmup).Dispose();
        using (torch.no_grad())
            foreach (var p in PRepBN.Enumerate(block)) { p.Norm2.Alpha.fill_(0.5); p.Norm2.BatchNorm.weight.fill_(1.3); }
        block.eval();
        AssertCausal(block, T: 20, t: 9);
    }

    [Fact]
    public void CausalLM_SlaVariant_EvalAndFolded_AreCausal_AndFoldIsExact()
    {
        torch.manual_seed(4);
        using var lm = new SlabCausalLM(Tiny(LmAttentionKind.Sla));
        lm.train();
        using (var ids = torch.randint(0, 50, new long[] { 4, 16 }, dtype: int64)) lm.call(ids).Dispose();
        using (torch.no_grad())
            foreach (var p in PRepBN.Enumerate(lm)) { p.Norm2.Alpha.fill_(0.7); p.Norm2.BatchNorm.weight.normal_(1, 0.2); p.Norm2.BatchNorm.bias!.normal_(0, 0.2); }
        lm.eval();
        using var x = torch.randint(0, 50, new long[] { 2, 16 }, dtype: int64);
        using var before = lm.call(x);
        lm.SwitchToDeploy();
        Assert.Empty(PRepBN.Enumerate(lm));
        using var after = lm.call(x);
        SlabFixtures.Close(log, before, after, "lm folded vs unfolded", 1e-4);

        // perturb tokens 8.. of the ids: logits 0..7 unchanged, a later one changes
        using var x2 = x.clone();
        x2.narrow(1, 8, 8).fill_(3);
        using var after2 = lm.call(x2);
        Assert.True(after.narrow(1, 0, 8).allclose(after2.narrow(1, 0, 8), rtol: 0, atol: 0), "logits before position 8 changed");
        Assert.False(after.narrow(1, 8, 8).allclose(after2.narrow(1, 8, 8)), "perturbation had no effect at all");
    }

    /// <summary>Perturb tokens t+1.. and check outputs ≤ t bit-identical; then ∂out_t/∂x_j = 0 for j &gt; t and ≠ 0 for some j ≤ t.</summary>
    private void AssertCausal(nn.Module<Tensor, Tensor> m, int T, int t)
    {
        using var x = torch.randn(2, T, 32);
        using var y = m.call(x);
        using var x2 = x.clone();
        using (torch.no_grad()) x2.narrow(1, t + 1, T - t - 1).add_(torch.randn(2, T - t - 1, 32) * 3);
        using var y2 = m.call(x2);
        using var early = (y.narrow(1, 0, t + 1) - y2.narrow(1, 0, t + 1)).abs().max();
        using var late = (y.narrow(1, t + 1, T - t - 1) - y2.narrow(1, t + 1, T - t - 1)).abs().max();
        log.WriteLine($"{m.GetType().Name}: max change at positions ≤ {t}: {early.item<float>():E2}; after: {late.item<float>():E2}");
        Assert.Equal(0f, early.item<float>());
        Assert.True(late.item<float>() > 1e-3, "later outputs should react to the perturbation");

        using var xg = x.clone().requires_grad_(true);
        using var out_ = m.call(xg);
        out_.select(1, t).sum().backward();
        using var g = xg.grad!;
        using var gLate = g.narrow(1, t + 1, T - t - 1).abs().max();
        using var gEarly = g.narrow(1, 0, t + 1).abs().sum(-1);
        Assert.Equal(0f, gLate.item<float>());
        Assert.True(gEarly.select(1, t).min().item<float>() > 0, "output t must depend on token t");
        Assert.True(gEarly.select(1, 0).min().item<float>() > 0, "output t must depend on token 0");
    }
}

using MLNetExtensions.Tests.VisionLanguage;
using MLNetExtensions.Transforms.AlignKd;
using MLNetExtensions.Transforms.Language;
using MLNetExtensions.Transforms.VisionLanguage;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.AlignKd;

public class AlignKdLossTests
{
    private const int N = 16;

    /// <summary>A causal, padded layer-0-like attention tensor (B, H, L, L) from random scores.</summary>
    private static Tensor CausalAttention(long b, long h, long l, Tensor? mask = null, long seed = 0)
    {
        torch.manual_seed(seed);
        var blocked = CausalMask.Blocked(l, mask, CPU);
        return randn(b, h, l, l).masked_fill(blocked, float.MinValue).softmax(-1);
    }

    [Fact]
    public void ForwardKdEqualsKlPlusTeacherEntropyAndReverseKdIsReverseKl()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(3);
        var s = randn(2, 5, 7); var t = randn(2, 5, 7);
        var pos = tensor(new float[] { 1, 1, 1, 0, 0, 1, 1, 1, 1, 1 }, new long[] { 2, 5 });
        var kd = AlignKdLosses.Kd(s, t, pos, KdDivergence.ForwardKl).item<float>();
        double kl = 0, ent = 0, rkl = 0; int count = 0;
        var ls = s.log_softmax(-1).data<float>().ToArray(); var lt = t.log_softmax(-1).data<float>().ToArray();
        var m = pos.data<float>().ToArray();
        for (int p = 0; p < 10; p++)
        {
            if (m[p] == 0) continue;
            count++;
            for (int v = 0; v < 7; v++)
            {
                double pt = Math.Exp(lt[p * 7 + v]), ps = Math.Exp(ls[p * 7 + v]);
                kl += pt * (lt[p * 7 + v] - ls[p * 7 + v]);
                ent -= pt * lt[p * 7 + v];
                rkl += ps * (ls[p * 7 + v] - lt[p * 7 + v]);
            }
        }
        Assert.Equal((kl + ent) / count, kd, 5);
        Assert.Equal(rkl / count, AlignKdLosses.Kd(s, t, pos, KdDivergence.ReverseKl).item<float>(), 5);
        // τ: softmax(z/τ) and the τ² factor.
        var kd2 = AlignKdLosses.Kd(s, t, pos, KdDivergence.ForwardKl, 2.0).item<float>();
        Assert.Equal(4 * AlignKdLosses.Kd(s.div(2.0f.ToScalar()), t.div(2.0f.ToScalar()), pos, KdDivergence.ForwardKl).item<float>(), kd2, 4);
    }

    [Fact]
    public void FocusIndicesStayInsideTheVisionBlockWithASystemPromptOffsetAndMatchALoopReference()
    {
        using var scope = NewDisposeScope();
        long s = 6, l = s + N + 5;
        long[] starts = { s, s };
        var mask = ones(2, l, ScalarType.Int64);
        var a = CausalAttention(2, 4, l, mask, seed: 1);
        var text = AlignKdLosses.TextMask(starts, N, mask);
        var idx = AlignKdLosses.FocusIndices(a, text, starts, N, 4);
        var host = idx.data<long>().ToArray();
        Assert.All(host, i => Assert.InRange(i, 0, N - 1));
        // Loop reference of the focus scores: Σ over text rows of the head-mean attention to column s + n.
        var ah = a.data<float>().ToArray();
        for (int b = 0; b < 2; b++)
        {
            var f = new double[N];
            for (int n = 0; n < N; n++)
                for (long i = s + N; i < l; i++)
                    for (int h = 0; h < 4; h++) f[n] += ah[((b * 4 + h) * l + i) * l + s + n] / 4.0;
            var top = f.Select((v, n) => (v, n)).OrderByDescending(p => p.v).Take(4).Select(p => (long)p.n).OrderBy(x => x);
            Assert.Equal(top, host.Skip(b * 4).Take(4).OrderBy(x => x));
        }
        // Had the code's fixed offset been used (vision at 1…16), the prompt columns would have been scored instead.
        Assert.Throws<ArgumentOutOfRangeException>(() => AlignKdLosses.FocusIndices(a, text, new[] { l - 3, l - 3 }, N, 4));
    }

    [Fact]
    public void TopKGatherEqualsALoopReference()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(2);
        var tokens = randn(3, N, 5);
        var idx = tensor(new long[] { 0, 15, 7, 3, 3, 9, 1, 2, 14, 8, 4, 6 }, new long[] { 3, 4 });
        var g = AlignKdLosses.GatherTokens(tokens, idx);
        var th = tokens.data<float>().ToArray(); var ih = idx.data<long>().ToArray(); var gh = g.data<float>().ToArray();
        for (int b = 0; b < 3; b++) for (int k = 0; k < 4; k++) for (int c = 0; c < 5; c++)
            Assert.Equal(th[(b * N + ih[b * 4 + k]) * 5 + c], gh[(b * 4 + k) * 5 + c]);
        // L_V = mean over all tokens + mean over the focus tokens.
        var target = randn(3, N, 5);
        var lv = AlignKdLosses.Projection(tokens, target, idx).item<float>();
        var d = tokens.sub(target);
        var expected = d.square().mean().item<float>() + AlignKdLosses.GatherTokens(d, idx).square().mean().item<float>();
        Assert.Equal(expected, lv, 5);
    }

    [Fact]
    public void PaddedRowsAndColumnsNeverEnterAMean()
    {
        using var scope = NewDisposeScope();
        long l = 1 + N + 6;
        // Row 1 is right-padded by 2: its last two positions are padding.
        var mask = ones(2, l, ScalarType.Int64);
        mask[1].narrow(0, l - 2, 2).fill_(0L.ToScalar());
        long[] starts = { 1, 1 };
        var aS = CausalAttention(2, 4, l, mask, seed: 4);
        var aT = CausalAttention(2, 4, l, mask, seed: 5);
        var text = AlignKdLosses.TextMask(starts, N, mask);
        var vision = AlignKdLosses.VisionMask(starts, N, l);
        Assert.Equal(0f, text[1].narrow(0, l - 2, 2).sum().item<float>());
        foreach (var red in new[] { AttentionReduction.MeanOverEntries, AttentionReduction.SumOverKeysMeanOverRows })
        {
            var before = AlignKdLosses.Attention(aS, aT, text, vision, red).item<float>();
            // Garbage in the padded rows (queries) and padded columns (keys) of both maps changes nothing.
            var s2 = aS.clone(); var t2 = aT.clone();
            s2[1].narrow(1, l - 2, 2).fill_(7f.ToScalar()); t2[1].narrow(1, l - 2, 2).fill_((-3f).ToScalar());
            s2[1].narrow(2, l - 2, 2).fill_(5f.ToScalar());
            Assert.Equal(before, AlignKdLosses.Attention(s2, t2, text, vision, red).item<float>(), 6);
            // The denominators count real entries only: a hand-computed mean agrees.
            var sq = aS.sub(aT).square();
            double sum = 0; int entries = 0, rows = 0;
            for (int b = 0; b < 2; b++)
                for (long i = 1 + N; i < l - (b == 1 ? 2 : 0); i++)
                {
                    rows++;
                    for (int h = 0; h < 4; h++) for (long j = 1; j <= N; j++) { sum += sq[b, h, i, j].item<float>(); if (h == 0) entries++; }
                }
            double expected = red == AttentionReduction.MeanOverEntries ? sum / (4.0 * entries) : sum / (4.0 * rows);
            Assert.Equal(expected, before, 5);
        }
        // KD: padded positions' logits do not matter.
        torch.manual_seed(6);
        var ls = randn(2, l, 9); var lt = randn(2, l, 9);
        var kd = AlignKdLosses.Kd(ls, lt, mask, KdDivergence.ForwardKl).item<float>();
        var ls2 = ls.clone(); ls2[1].narrow(0, l - 2, 2).fill_(100f.ToScalar());
        Assert.Equal(kd, AlignKdLosses.Kd(ls2, lt, mask, KdDivergence.ForwardKl).item<float>(), 6);
        // Focus: padded rows give no score.
        var t3 = aT.clone(); t3[1].narrow(1, l - 2, 2).fill_(9f.ToScalar());
        Assert.True(AlignKdLosses.FocusScores(aT, text, starts, N).allclose(AlignKdLosses.FocusScores(t3, text, starts, N), 0, 1e-6));
    }

    private static (VlmOutput Student, TeacherOutputs Teacher, MiniVlm Model, Tensor Targets, Tensor Loss) Pair(long seed)
    {
        var student = MiniVlmTests.Model(d: 32, layers: 2, heads: 4, seed: seed);
        var teacher = MiniVlmTests.Model(d: 64, layers: 2, heads: 8, seed: seed + 10);
        student.train();
        torch.manual_seed(seed);
        var grid = randn(2, 32, 8, 8);
        var ids = tensor(new long[] { 2, 5, 6, 7, 8, 9, 10, 3, 2, 5, 6, 7, 11, 9, 12, 3 }, new long[] { 2, 8 });
        var targets = tensor(new long[2 * 23], new long[] { 2, 23 });
        var loss = zeros(2, 23, ScalarType.Int64); loss.narrow(1, 21, 2).fill_(1L.ToScalar());
        TeacherOutputs t;
        using (no_grad())
        {
            var o = teacher.Run(grid, ids, attentionLayer0: true);
            t = new TeacherOutputs(o.Logits, o.VisionTokens, o.Attention!);
        }
        return (student.Run(grid, ids, attentionLayer0: true), t, student, targets, loss);
    }

    [Fact]
    public void CodeFaithfulAttentionLossIsMeanBiasSquaredWithExactlyZeroGradient()
    {
        using var scope = NewDisposeScope();
        var (s, t, model, _, _) = Pair(1);
        var text = AlignKdLosses.TextMask(s.VisionStart, N, s.Mask);
        var vision = AlignKdLosses.VisionMask(s.VisionStart, N, s.Mask.shape[1]);
        var options = AlignKdObjectiveOptions.CodeFaithful;
        using var adapters = new AlignKdAdapters(options, 4, 8, 32, 64);
        var (ms, mt) = adapters.MatchHeads(s.Attention!, t.Attention);
        var att = AlignKdLosses.Attention(ms, mt, vision, text, AttentionReduction.MeanOverEntries);   // VisionQueryTextKey
        var c = adapters.HeadBias!;
        Assert.Equal(c.square().mean().item<float>(), att.item<float>(), 6);
        Assert.True(c.abs().sum().item<float>() > 0);
        att.backward();
        foreach (var (name, p) in model.named_parameters())
            if (p.grad is not null) Assert.True(p.grad.abs().max().item<float>() == 0f, $"{name} got a gradient from the vacuous term");
        // With head-means the vacuous block is exactly 0.
        using var hm = new AlignKdAdapters(options with { HeadAdapter = HeadAdapter.HeadMean }, 4, 8, 32, 64);
        var (hs, ht) = hm.MatchHeads(s.Attention!, t.Attention);
        Assert.Equal(0f, AlignKdLosses.Attention(hs, ht, vision, text, AttentionReduction.MeanOverEntries).item<float>());
    }

    [Fact]
    public void TextQueryVisionKeyAttentionLossHasANonZeroGradient()
    {
        using var scope = NewDisposeScope();
        var (s, t, model, _, _) = Pair(2);
        var text = AlignKdLosses.TextMask(s.VisionStart, N, s.Mask);
        var vision = AlignKdLosses.VisionMask(s.VisionStart, N, s.Mask.shape[1]);
        using var adapters = new AlignKdAdapters(AlignKdObjectiveOptions.CodeFaithful with { AttentionBlock = AttentionBlock.TextQueryVisionKey }, 4, 8, 32, 64);
        var (ms, mt) = adapters.MatchHeads(s.Attention!, t.Attention);
        var att = AlignKdLosses.Attention(ms, mt, text, vision, AttentionReduction.MeanOverEntries);
        att.backward();
        var qkv = model.Lm.Transformer.Blocks[0].Attention.Qkv.weight!.grad!;
        Assert.True(qkv.abs().max().item<float>() > 0);
        Assert.True(model.Projector.parameters().First().grad!.abs().max().item<float>() > 0);
    }

    [Fact]
    public void ObjectiveSumsTheWeightedTermsAndTheFrozenAdaptersStayOutOfTheGradient()
    {
        using var scope = NewDisposeScope();
        var (s, t, model, targets, loss) = Pair(3);
        var o = new AlignKdObjectiveOptions { KdWeight = 0.5, VisionWeight = 2, AttentionWeight = 3, HeadAdapter = HeadAdapter.Learnable };
        using var adapters = new AlignKdAdapters(o, 4, 8, 32, 64);
        var terms = AlignKdObjective.Compute(s, t, targets, loss, adapters);
        double expected = terms["sup"].item<float>() + 0.5 * terms["kd"].item<float>() + 2 * terms["vision"].item<float>() + 3 * terms["attention"].item<float>();
        Assert.Equal(expected, terms["total"].item<float>(), 4);
        terms["total"].backward();
        Assert.All(adapters.parameters(), p => Assert.True(p.requires_grad && p.grad is not null));
        using var frozen = new AlignKdAdapters(AlignKdObjectiveOptions.CodeFaithful, 4, 8, 32, 64);
        Assert.All(frozen.parameters(), p => Assert.False(p.requires_grad));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AlignKdObjectiveOptions { KdTemperature = 0 }.Validate());
    }
}

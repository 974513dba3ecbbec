using MLNetExtensions.Core.Torch;
using System.Diagnostics;
using MLNetExtensions.Core.Text;
using MLNetExtensions.Transforms.Language;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Language;

public class CausalLmTests
{
    private static readonly CausalLmConfig Tiny = new(VocabSize: 23, DModel: 32, Layers: 2, Heads: 4, FfnDim: 64, MaxPositions: 24);

    private static CausalLm Model(CausalLmConfig? c = null, long seed = 1)
    {
        torch.manual_seed(seed);
        var m = new CausalLm(c ?? Tiny);
        m.eval();
        return m;
    }

    private static Tensor Ids(params long[][] rows) =>
        torch.tensor(rows.SelectMany(r => r).ToArray(), new long[] { rows.Length, rows[0].Length });

    [Fact]
    public void ChangingAFutureTokenDoesNotChangeEarlierLogits()
    {
        using var m = Model();
        using var a = Ids(new long[] { 2, 7, 8, 9, 10, 11 });
        using var b = Ids(new long[] { 2, 7, 8, 20, 21, 22 });
        using var la = m.call(a);
        using var lb = m.call(b);
        Assert.True(la.narrow(1, 0, 3).allclose(lb.narrow(1, 0, 3), 0, 1e-6));
        Assert.False(la.narrow(1, 3, 1).allclose(lb.narrow(1, 3, 1), 0, 1e-4));
    }

    [Fact]
    public void PaddingOnEitherSideLeavesRealPositionsUnchanged()
    {
        using var m = Model();
        using var scope = torch.NewDisposeScope();
        var plain = m.call(Ids(new long[] { 2, 7, 8, 9 }));
        var left = m.Logits(Ids(new long[] { 0, 0, 2, 7, 8, 9 }), attentionMask: Ids(new long[] { 0, 0, 1, 1, 1, 1 }));
        var right = m.Logits(Ids(new long[] { 2, 7, 8, 9, 0, 0 }), attentionMask: Ids(new long[] { 1, 1, 1, 1, 0, 0 }));
        Assert.True(plain.allclose(left.narrow(1, 2, 4), 0, 1e-5));
        Assert.True(plain.allclose(right.narrow(1, 0, 4), 0, 1e-5));
        // A pad's content never leaks into a real position: change the pad ids.
        var left2 = m.Logits(Ids(new long[] { 15, 16, 2, 7, 8, 9 }), attentionMask: Ids(new long[] { 0, 0, 1, 1, 1, 1 }));
        Assert.True(left.narrow(1, 2, 4).allclose(left2.narrow(1, 2, 4), 0, 1e-6));
    }

    [Fact]
    public void AttentionRowsSumToOneAreCausalAndLayerZeroHasTheRightShape()
    {
        using var m = Model();
        using var scope = torch.NewDisposeScope();
        var ids = Ids(new long[] { 0, 2, 7, 8, 9 }, new long[] { 2, 7, 8, 0, 0 });
        var mask = Ids(new long[] { 0, 1, 1, 1, 1 }, new long[] { 1, 1, 1, 0, 0 });
        using var o = m.Run(ids, attentionMask: mask, returnHiddenStates: true, attentionLayers: new[] { 0 });
        Assert.Equal(2, o.Attentions!.Count);
        Assert.Null(o.Attentions[1]);
        var a0 = o.Attentions[0]!;
        Assert.Equal(new long[] { 2, 4, 5, 5 }, a0.shape);
        Assert.Equal(ScalarType.Float32, a0.dtype);
        Assert.True(a0.sum(-1).allclose(torch.ones(2, 4, 5), 0, 1e-5));
        // Future keys and padded keys get exactly 0.
        var future = torch.ones(5, 5, ScalarType.Bool).triu(1);
        Assert.Equal(0f, a0.masked_select(future.expand(2, 4, 5, 5)).abs().max().item<float>());
        Assert.Equal(0f, a0[0, .., 1.., 0].abs().max().item<float>());      // left pad key 0 of row 0
        Assert.Equal(0f, a0[1, .., ..3, 3..].abs().max().item<float>());   // right pad keys 3, 4 of row 1
        Assert.Equal(Tiny.Layers + 1, o.HiddenStates!.Count);
        Assert.All(o.HiddenStates, h => Assert.Equal(new long[] { 2, 5, Tiny.DModel }, h.shape));
        Assert.Equal(new long[] { 2, 5, Tiny.VocabSize }, o.Logits!.shape);
    }

    [Fact]
    public void EmbeddingsPathEqualsIdsPath()
    {
        foreach (var tied in new[] { false, true })
        {
            using var m = Model(Tiny with { TieEmbeddings = tied });
            using var scope = torch.NewDisposeScope();
            var ids = Ids(new long[] { 2, 7, 8, 9, 5, 11 });
            var mask = Ids(new long[] { 1, 1, 1, 1, 1, 1 });
            using var byIds = m.Run(ids, attentionMask: mask, attentionLayers: new[] { 0, 1 });
            using var byEmb = m.Run(inputsEmbeds: m.EmbedTokens(ids), attentionMask: mask, attentionLayers: new[] { 0, 1 });
            Assert.True(byIds.Logits!.allclose(byEmb.Logits!, 0, 1e-6));
            Assert.True(byIds.Attentions![0]!.allclose(byEmb.Attentions![0]!, 0, 1e-6));
            // Splicing: replacing the placeholder's embedding changes later positions only.
            var emb = m.EmbedTokens(ids).clone();
            emb[0, 4] = torch.randn(Tiny.DModel);
            var spliced = m.Logits(inputsEmbeds: emb, attentionMask: mask);
            Assert.True(spliced.narrow(1, 0, 4).allclose(byIds.Logits!.narrow(1, 0, 4), 0, 1e-6));
        }
        using var t = Model(Tiny with { TieEmbeddings = true });
        Assert.DoesNotContain(t.named_parameters(), p => p.name.StartsWith("lm_head"));
    }

    [Fact]
    public void GenerationIsDeterministicPerSeedAndGreedyIsArgmax()
    {
        using var m = Model();
        var prompts = new[] { new long[] { 2, 7, 8 }, new long[] { 2, 9 } };
        var greedy = TextGeneration.Generate(m, prompts, new GenerationOptions { MaxNewTokens = 6, StopTokenId = null });
        // Greedy equals a manual argmax loop on each unpadded prompt.
        for (int r = 0; r < prompts.Length; r++)
        {
            var seq = prompts[r].ToList();
            for (int s = 0; s < 6; s++)
            {
                using var scope = torch.NewDisposeScope();
                using var _ = torch.no_grad();
                var logits = m.call(torch.tensor(seq.ToArray(), new long[] { 1, seq.Count }));
                seq.Add(logits[0, -1].argmax().item<long>());
            }
            Assert.Equal(seq.Skip(prompts[r].Length), greedy.Tokens[r]);
        }
        var o = new GenerationOptions { MaxNewTokens = 8, Greedy = false, TopK = 5, Temperature = 1.5, StopTokenId = 3, Seed = 7 };
        var s1 = TextGeneration.Generate(m, prompts, o);
        var s2 = TextGeneration.Generate(m, prompts, o);
        Assert.Equal(s1.Tokens, s2.Tokens);
        var others = Enumerable.Range(8, 6).Select(seed => TextGeneration.Generate(m, prompts, o with { Seed = seed }).Tokens).ToList();
        Assert.Contains(others, x => !x.SelectMany(y => y).SequenceEqual(s1.Tokens.SelectMany(y => y)));
        // Stop token ends a row (included); the context limit is reported.
        foreach (var row in s1.Tokens.Zip(s1.Stopped))
            if (row.Second) Assert.Equal(3L, row.First[^1]);
        var limit = TextGeneration.Generate(m, new[] { Enumerable.Repeat(7L, 22).ToArray() }, new GenerationOptions { MaxNewTokens = 10, StopTokenId = null });
        Assert.Equal(2, limit.Tokens[0].Length);
        Assert.True(limit.HitContextLimit[0]);
    }

    [Fact]
    public void GenerationLeaksNoTensors()
    {
        using var m = Model();
        var prompts = new[] { new long[] { 2, 7, 8 }, new long[] { 2, 9 } };
        var o = new GenerationOptions { MaxNewTokens = 5, Greedy = false, TopK = 4, StopTokenId = null, Seed = 3 };
        TextGeneration.Generate(m, prompts, o);
        DisposeScopeManager.Statistics.Reset();
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 5; i++) TextGeneration.Generate(m, prompts, o);
        long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Assert.True(after - before <= 0, $"live tensors grew by {after - before} over 5 generations");
    }

    [Fact]
    public void LogProbHelperEqualsAManualGather()
    {
        using var m = Model();
        using var scope = torch.NewDisposeScope();
        var ids = Ids(new long[] { 2, 7, 8, 9, 0 }, new long[] { 2, 10, 11, 12, 13 });
        var mask = Ids(new long[] { 1, 1, 1, 1, 0 }, new long[] { 1, 1, 1, 1, 1 });
        var lp = TokenLogProbs.OfSequence(m, ids, mask);
        Assert.Equal(new long[] { 2, 4 }, lp.shape);
        var logits = m.Logits(ids, attentionMask: mask);
        var logp = logits.log_softmax(-1);
        for (int b = 0; b < 2; b++)
            for (int t = 0; t < 4; t++)
            {
                float expected = mask[b, t + 1].item<long>() == 0 ? 0f : logp[b, t, ids[b, t + 1].item<long>()].item<float>();
                Assert.Equal(expected, lp[b, t].item<float>(), 5);
            }
        // The loss is the masked mean of −log p.
        var lossMask = Ids(new long[] { 0, 0, 1, 1, 0 }, new long[] { 0, 0, 0, 1, 1 });
        var loss = TokenLogProbs.NextTokenLoss(logits, ids, lossMask).item<float>();
        float manual = -(lp[0, 1].item<float>() + lp[0, 2].item<float>() + lp[1, 2].item<float>() + lp[1, 3].item<float>()) / 4;
        Assert.Equal(manual, loss, 5);
    }

    [Fact]
    public void GradientsReachEveryParameter()
    {
        foreach (var tied in new[] { false, true })
        {
            using var m = Model(Tiny with { TieEmbeddings = tied, Dropout = 0.1 });
            m.train();
            using var scope = torch.NewDisposeScope();
            var ids = torch.randint(0, Tiny.VocabSize, new long[] { 3, Tiny.MaxPositions });
            var mask = torch.ones(3, Tiny.MaxPositions, ScalarType.Int64);
            var loss = TokenLogProbs.NextTokenLoss(m.Logits(ids, attentionMask: mask), ids, mask);
            loss.backward();
            foreach (var (name, p) in m.named_parameters())
            {
                Assert.NotNull(p.grad);
                Assert.True(p.grad!.abs().sum().item<float>() > 0, $"no gradient reached {name}");
            }
        }
        using var sm = new CausalScoreModel(Tiny, headHidden: 16);
        using var s2 = torch.NewDisposeScope();
        var sids = torch.randint(0, Tiny.VocabSize, new long[] { 3, 8 });
        sm.Score(sids, reduction: ScoreReduction.MeanPool).sum().backward();
        foreach (var (name, p) in sm.named_parameters())
            Assert.True(p.grad is not null && p.grad.abs().sum().item<float>() > 0, $"no gradient reached {name}");
    }

    [Fact]
    public void ScoreModelReadsTheLastRealTokenOnEitherPaddingSide()
    {
        torch.manual_seed(3);
        using var sm = new CausalScoreModel(Tiny);
        sm.eval();
        using var scope = torch.NewDisposeScope();
        var plain = sm.Score(Ids(new long[] { 2, 7, 8 }));
        var right = sm.Score(Ids(new long[] { 2, 7, 8, 0 }), Ids(new long[] { 1, 1, 1, 0 }));
        var left = sm.Score(Ids(new long[] { 0, 2, 7, 8 }), Ids(new long[] { 0, 1, 1, 1 }));
        Assert.True(plain.allclose(right, 0, 1e-5));
        Assert.True(plain.allclose(left, 0, 1e-5));
        var per = sm.Score(Ids(new long[] { 2, 7, 8, 0 }), Ids(new long[] { 1, 1, 1, 0 }), ScoreReduction.PerPosition);
        Assert.Equal(new long[] { 1, 4 }, per.shape);
        Assert.Equal(plain.item<float>(), per[0, 2].item<float>(), 5);
        Assert.Equal(0f, per[0, 3].item<float>());
        // Value model initialised from a policy: the trunks agree.
        using var policy = Model();
        sm.LoadTrunkFrom(policy);
        var ids = Ids(new long[] { 2, 7, 8 });
        Assert.True(policy.Transformer.call(ids).allclose(sm.Transformer.call(ids), 0, 1e-6));
    }

    [Fact]
    public void ATinyLmOverfitsATinyCorpus()
    {
        var corpus = new[] { "what is top-left ? shirt", "where is bag ? bottom-right", "is there sneaker ? yes", "is there coat ? no" };
        var tok = TextTokenizer.Train(corpus);
        var batch = tok.EncodeBatch(corpus, addBos: true, addEos: true);
        torch.manual_seed(5);
        using var m = new CausalLm(new CausalLmConfig(tok.VocabularySize, DModel: 32, Layers: 2, Heads: 4, FfnDim: 64, MaxPositions: 16));
        using var ids = torch.tensor(batch.Ids, new long[] { batch.BatchSize, batch.SequenceLength });
        using var mask = torch.tensor(batch.AttentionMask, new long[] { batch.BatchSize, batch.SequenceLength });
        using var opt = new RootedAdamW(m.parameters(), 3e-3);
        m.train();
        float first = 0, last = 0;
        for (int step = 0; step < 150; step++)
        {
            using var scope = torch.NewDisposeScope();
            opt.zero_grad();
            var loss = TokenLogProbs.NextTokenLoss(m.Logits(ids, attentionMask: mask), ids, mask);
            loss.backward();
            opt.step();
            last = loss.item<float>();
            if (step == 0) first = last;
        }
        Assert.True(last < 0.1 * first && last < 0.3f, $"loss went {first:F3} → {last:F3}");
        // The memorised answers come back greedily from the question prefix.
        var prompt = tok.Encode("where is bag ?").Ids;
        var gen = TextGeneration.Generate(m, new[] { prompt }, new GenerationOptions { MaxNewTokens = 4 });
        Assert.Equal("bottom - right", tok.Decode(gen.Tokens[0]));
        Assert.True(gen.Stopped[0]);
        var packed = gen.ToSequenceBatch(new[] { prompt });
        Assert.Equal(prompt.Length + gen.Tokens[0].Length, packed.SequenceLength);
        Assert.Equal(gen.Tokens[0].Length, packed.ResponseMask.Sum());
    }

    [Fact]
    public void BadInputsAreNamed()
    {
        using var m = Model();
        Assert.Contains("MaxPositions", Assert.Throws<ArgumentException>(() => m.call(torch.zeros(1, 30, ScalarType.Int64))).Message);
        Assert.Contains("[0, 23)", Assert.Throws<ArgumentOutOfRangeException>(() => m.call(torch.full(1, 3, 40L, ScalarType.Int64))).Message);
        Assert.Contains("exactly one", Assert.Throws<ArgumentException>(() => m.Run()).Message);
        Assert.Contains("layer 5", Assert.Throws<ArgumentOutOfRangeException>(() => m.Run(torch.zeros(1, 3, ScalarType.Int64), attentionLayers: new[] { 5 })).Message);
        Assert.Contains("divide", Assert.Throws<ArgumentOutOfRangeException>(() => new CausalLm(Tiny with { Heads = 5 })).Message);
    }
}

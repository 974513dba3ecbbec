using MLNetExtensions.Transforms.Language;
using MLNetExtensions.Transforms.Rlhf.Policy;
using MLNetExtensions.Transforms.Rlhf.Ppo;
using MLNetExtensions.Transforms.Rlhf.QaFeedback;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Rlhf;

public class PpoTests
{
    private static Tensor T(float[] v, long rows) => torch.tensor(v, new[] { rows, v.Length / rows });
    private static float[] A(Tensor t) => t.to_type(ScalarType.Float32).contiguous().data<float>().ToArray();

    [Fact]
    public void GaeMatchesAHandComputedCase()
    {
        using var scope = torch.NewDisposeScope();
        var rewards = T(new[] { 0f, 0f, 1f, 0f, 1f, 5f }, 2);
        var values = T(new[] { 0.5f, 0.2f, 0.4f, 0.1f, 0.3f, 9f }, 2);
        var mask = T(new[] { 1f, 1f, 1f, 1f, 1f, 0f }, 2);
        var (adv, ret) = PpoMath.Gae(rewards, values, mask, gamma: 1.0, lambda: 0.95);
        // Row 0: δ = (−0.3, 0.2, 0.6) → A = (0.4315, 0.77, 0.6); row 1 (last position padded): A = (0.865, 0.7, 0).
        Assert.Equal(new[] { 0.4315f, 0.77f, 0.6f, 0.865f, 0.7f, 0f }, A(adv), new Tol(1e-5f));
        Assert.Equal(new[] { 0.9315f, 0.97f, 1.0f, 0.965f, 1.0f, 0f }, A(ret), new Tol(1e-5f));
        // γ = 0.5, λ = 0: one-step TD errors only.
        var (td, _) = PpoMath.Gae(rewards, values, mask, gamma: 0.5, lambda: 0);
        Assert.Equal(new[] { 0 + 0.5f * 0.2f - 0.5f, 0 + 0.5f * 0.4f - 0.2f, 1 - 0.4f, 0.5f * 0.3f - 0.1f, 1 - 0.3f, 0 }, A(td), new Tol(1e-6f));
    }

    [Fact]
    public void WhiteningUsesMaskedMomentsAndCanKeepTheMean()
    {
        using var scope = torch.NewDisposeScope();
        var x = T(new[] { 1f, 2f, 3f, 100f }, 1);
        var m = T(new[] { 1f, 1f, 1f, 0f }, 1);
        float s = (float)(1 / Math.Sqrt(2.0 / 3 + 1e-8));
        Assert.Equal(new[] { -s, 0, s, 0 }, A(PpoMath.Whiten(x, m)), new Tol(1e-5f));
        Assert.Equal(new[] { 2 - s, 2, 2 + s, 0 }, A(PpoMath.Whiten(x, m, shiftMean: false)), new Tol(1e-5f));
        Assert.Equal(2f / 3, PpoMath.MaskedVar(x, m).item<float>(), 5);
    }

    [Fact]
    public void KlPenaltyIsBetaTimesTheLogRatioPerToken()
    {
        using var scope = torch.NewDisposeScope();
        var (r, kl) = PpoMath.PenalizedRewards(T(new[] { 0f, 0.3f, 7f }, 1), T(new[] { -1f, -2f, -3f }, 1), T(new[] { -1.5f, -1f, 0f }, 1), T(new[] { 1f, 1f, 0f }, 1), 0.3);
        Assert.Equal(new[] { 0.5f, -1f, 0f }, A(kl), new Tol(1e-6f));
        Assert.Equal(new[] { -0.15f, 0.6f, 0f }, A(r), new Tol(1e-6f));
    }

    [Fact]
    public void RewardsArePlacedAtSeparatorsAndAtTheEnd()
    {
        long[] tokens = { 10, 11, 12, 4, 10, 11, 12, 4, 3 };
        var r = RewardPlacement.AtSeparators(tokens, new[] { true, false }, RewardPlacement.RelevanceWeight);
        Assert.Equal(new[] { 0, 0, 0, 0.3f, 0, 0, 0, -0.3f, 0 }, r);
        Assert.Equal(new[] { 0, 0, 0, -0.5f, 0, 0, 0, 0.5f, 0 }, RewardPlacement.AtSeparators(tokens, new[] { false, true }, RewardPlacement.FactualityWeight));
        Assert.Throws<ArgumentException>(() => RewardPlacement.AtSeparators(tokens, new[] { true }, 0.3));
        Assert.Throws<ArgumentException>(() => RewardPlacement.AtSeparators(tokens, new[] { true, true, true }, 0.3));
        var end = RewardPlacement.AtEnd(5, score: 0.75, mean: 0.5, std: 0.25);
        Assert.Equal(new[] { 0, 0, 0, 0, 0.3f }, end, new Tol(1e-6f));

        // The oracle reward of the task places the same way: sentence 1 relevant, sentence 2 repeated.
        var task = new QaFeedbackTaskOptions();
        var tok = QaFeedbackText.CreateTokenizer(task);
        var ex = new QaExample(3, Enumerable.Range(0, 8).Select(k => 10 + k).ToArray(), new[] { 2, 5 });
        var text = "E3 A2 V12 <sep> E3 A2 V0 <sep>";
        var ids = tok.Encode(text, addBos: false, addEos: true).Ids;
        var resp = new GeneratedResponse(ids, tok.Decode(ids, keepSeparator: true), true);
        Assert.Equal(text, resp.Text);
        var rel = QaFeedbackRewards.Oracle(QaFeedbackAspect.Relevance, new[] { ex }, task)(new[] { 0 }, new[] { resp })[0];
        Assert.Equal(new[] { 0, 0, 0, 0.3f, 0, 0, 0, -0.3f, 0 }, rel);
        var fact = QaFeedbackRewards.Oracle(QaFeedbackAspect.Factuality, new[] { ex }, task)(new[] { 0 }, new[] { resp })[0];
        Assert.Equal(new[] { 0, 0, 0, 0.5f, 0, 0, 0, -0.5f, 0 }, fact);
        var comp = QaFeedbackRewards.Oracle(QaFeedbackAspect.Completeness, new[] { ex }, task, 0.25, 0.5)(new[] { 0 }, new[] { resp })[0];
        Assert.Equal(new[] { 0, 0, 0, 0, 0, 0, 0, 0, (0.5f - 0.25f) / 0.5f * 0.3f }, comp, new Tol(1e-6f));
    }

    [Fact]
    public void PolicyAndValueLossesClip()
    {
        using var scope = torch.NewDisposeScope();
        var old = T(new[] { 0f, 0f, 0f }, 1);
        var logp = T(new[] { 0.5f, -0.5f, (float)Math.Log(1.1) }, 1).requires_grad_(true);
        var adv = T(new[] { 1f, 1f, -1f }, 1);
        var m = T(new[] { 1f, 1f, 1f }, 1);
        var (loss, frac) = PpoMath.PolicyLoss(logp, old, adv, m, 0.2);
        // max(−Aρ, −A·clip(ρ)) = (−1.2, −0.60653, 1.1): the first ratio (1.65) is clipped, the others are not.
        Assert.Equal((-1.2 - Math.Exp(-0.5) + 1.1) / 3, loss.item<float>(), 5);
        Assert.Equal(1.0 / 3, frac, 6);
        loss.backward();
        var g = A(logp.grad!);
        Assert.Equal(0f, g[0], 6);                                              // clipped: no gradient
        Assert.Equal(-Math.Exp(-0.5) / 3, g[1], 5);
        Assert.Equal(1.1 / 3, g[2], 5);

        var vl = PpoMath.ValueLoss(T(new[] { 1f, 0f }, 1), T(new[] { 0.5f, 0.5f }, 1), T(new[] { 2f, 0f }, 1), T(new[] { 1f, 1f }, 1), 0.2);
        Assert.Equal(0.5 * (1.69 + 0.09) / 2, vl.item<float>(), 5);
    }

    private static (CausalLm Policy, CausalLm Ref, CausalScoreModel Value) TinyModels(int vocab, int seed)
    {
        torch.manual_seed(seed);
        var cfg = new CausalLmConfig(vocab, DModel: 32, Layers: 1, Heads: 2, FfnDim: 64, MaxPositions: 64);
        var policy = new CausalLm(cfg);
        var reference = new CausalLm(cfg);
        reference.load_state_dict(policy.state_dict());
        var value = new CausalScoreModel(cfg, headHidden: 32);
        value.LoadTrunkFrom(policy);
        return (policy, reference, value);
    }

    [Fact]
    public void SftLearnsTheAnswerFormatAndPpoIsDeterministicForASeed()
    {
        torch.set_num_threads(1);
        var task = new QaFeedbackTaskOptions();
        var tok = QaFeedbackText.CreateTokenizer(task);
        var gen = new QaFeedbackGenerator(task);
        var sft = gen.SftData(600, seed: 1).Select(x => (x.Example.PolicyPrompt, x.Answer.Text)).ToArray();
        var test = gen.Questions(32, seed: 2);

        IReadOnlyList<PpoStepRecord> Run(out float[] weights)
        {
            var (policy, reference, value) = TinyModels(tok.VocabularySize, 7);
            var losses = PolicySft.Train(policy, tok, sft, new PolicySftOptions { Epochs = 2, LearningRate = 3e-3, Seed = 3 });
            Assert.True(losses[^1] < losses[0], $"SFT losses {string.Join(", ", losses)}");
            reference.load_state_dict(policy.state_dict());
            value.LoadTrunkFrom(policy);
            using var ppo = new PpoTrainer(policy, reference, value, tok, new PpoOptions { Steps = 2, PromptsPerRollout = 4, SamplesPerPrompt = 2, MiniBatchSize = 4, PpoEpochs = 2, Seed = 5 });
            var prompts = test.Select(q => q.PolicyPrompt).ToArray();
            var reward = QaFeedbackRewards.Oracle(QaFeedbackAspect.Relevance, test, task);
            var records = new[] { ppo.Step(0, prompts, new[] { 0, 1, 2, 3 }, reward), ppo.Step(1, prompts, new[] { 4, 5, 6, 7 }, reward) };
            weights = policy.parameters().SelectMany(p => p.data<float>().ToArray()).ToArray();
            return records;
        }
        var a = Run(out var wa);
        var b = Run(out var wb);
        Assert.Equal(a.Select(r => (r.RawReward, r.Kl, r.PolicyLoss, r.ValueLoss, r.GeneratedTokens)), b.Select(r => (r.RawReward, r.Kl, r.PolicyLoss, r.ValueLoss, r.GeneratedTokens)));
        Assert.Equal(wa, wb);
        Assert.All(a, r => Assert.True(double.IsFinite(r.PolicyLoss) && double.IsFinite(r.ValueLoss) && r.GeneratedTokens > 0));
        Assert.True(a[1].LearningRate > 0);
    }

    private sealed class Tol : IEqualityComparer<float>
    {
        private readonly float _t;
        public Tol(float t) => _t = t;
        public bool Equals(float x, float y) => Math.Abs(x - y) <= _t;
        public int GetHashCode(float obj) => 0;
    }
}

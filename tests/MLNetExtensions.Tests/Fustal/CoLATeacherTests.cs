using MLNetExtensions.Core.Torch;
using MLNetExtensions.Transforms.Fustal;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Fustal;

/// <summary>Note fustal.md §3.1–3.3 on a tiny CoLA: official keys, forward invariants, loss terms, backward and a few training steps.</summary>
public sealed class CoLATeacherTests
{
    private static readonly CoLAConfig Tiny = new(FeatureDim: 8, NumClasses: 3, EmbedDim: 16);

    [Fact]
    public void StateDictKeysAndShapesAreTheOfficialOnes()
    {
        using var model = new CoLA(Tiny);
        var sd = model.state_dict();
        Assert.Equal(new[] { "aness_module.f_cls.0.weight", "aness_module.f_embed.0.bias", "aness_module.f_embed.0.weight" }, sd.Keys.OrderBy(k => k, StringComparer.Ordinal));
        Assert.Equal(new long[] { 16, 8, 3 }, sd["aness_module.f_embed.0.weight"].shape);
        Assert.Equal(new long[] { 3, 16, 1 }, sd["aness_module.f_cls.0.weight"].shape);
    }

    [Fact]
    public void ForwardShapesAndInvariants()
    {
        manual_seed(1);
        using var model = new CoLA(Tiny);
        model.eval();
        using var x = randn(2, 40, 8);
        using var o = model.call(x);
        Assert.Equal(new long[] { 2, 3 }, o.VideoScores.shape);
        Assert.Equal(new long[] { 2, 40, 3 }, o.Cas.shape);
        Assert.Equal(new long[] { 2, 8, 16 }, o.EasyAction.shape);     // k_easy = 40 / 5
        Assert.Equal(new long[] { 2, 8, 16 }, o.EasyBackground.shape);
        Assert.Equal(new long[] { 2, 2, 16 }, o.HardAction.shape);     // k_hard = 40 / 20
        Assert.Equal(new long[] { 2, 2, 16 }, o.HardBackground.shape);
        Assert.True(o.Cas.min().item<float>() >= 0);
        Assert.True(o.Actionness.allclose(o.Cas.sum(2), 1e-5, 1e-6));
        Assert.True(o.VideoScores.sum(1).allclose(ones(2), 1e-5, 1e-6));

        // Video score = softmax over classes of the mean of the 8 largest CAS values per class.
        var cas = o.Cas.data<float>().ToArray();
        for (int b = 0; b < 2; b++)
        {
            var means = Enumerable.Range(0, 3).Select(c => Enumerable.Range(0, 40).Select(t => (double)cas[(b * 40 + t) * 3 + c]).OrderByDescending(v => v).Take(8).Average()).ToArray();
            var z = means.Select(Math.Exp).Sum();
            for (int c = 0; c < 3; c++) Assert.Equal(Math.Exp(means[c]) / z, o.VideoScores[b, c].item<float>(), 5);
        }
    }

    [Fact]
    public void EasyMiningInEvalTakesTheExtremeActionnessSnippets()
    {
        manual_seed(2);
        using var model = new CoLA(Tiny);
        model.eval();
        using var x = randn(1, 40, 8);
        using var o = model.call(x);
        var (emb, _, aness) = model.ActionnessModule.call(x);
        using (emb) using (aness)
        {
            var a = aness.data<float>().ToArray();
            var top = Enumerable.Range(0, 40).OrderByDescending(t => a[t]).Take(8).ToArray();
            var bottom = Enumerable.Range(0, 40).OrderBy(t => a[t]).Take(8).ToArray();
            using var expectTop = emb[0].index_select(0, tensor(top.Select(i => (long)i).ToArray()));
            using var expectBottom = emb[0].index_select(0, tensor(bottom.Select(i => (long)i).ToArray()));
            // Same sets (order inside the top-k does not matter to the mean used by the loss).
            Assert.True(o.EasyAction[0].mean(new long[] { 0 }).allclose(expectTop.mean(new long[] { 0 }), 1e-5, 1e-6));
            Assert.True(o.EasyBackground[0].mean(new long[] { 0 }).allclose(expectBottom.mean(new long[] { 0 }), 1e-5, 1e-6));
        }
    }

    [Fact]
    public void NceMatchesTheClosedForm()
    {
        // q = k = e1 (any scale: vectors are normalised), negatives e2, e3: logits [1/τ, 0, 0] → log(1 + 2·e^{−1/τ}).
        using var q = tensor(new float[] { 3, 0, 0 }).reshape(1, 3);
        using var k = tensor(new float[] { 0.5f, 0, 0 }).reshape(1, 3);
        using var neg = tensor(new float[] { 0, 1, 0, 0, 0, 2 }).reshape(1, 2, 3);
        using var loss = CoLALoss.Nce(q, k, neg, temperature: 1.0);
        Assert.Equal(Math.Log(1 + 2 * Math.Exp(-1)), loss.item<float>(), 5);
        using var sharp = CoLALoss.Nce(q, k, neg); // τ = 0.07
        Assert.Equal(Math.Log(1 + 2 * Math.Exp(-1 / 0.07)), sharp.item<float>(), 5);
    }

    [Fact]
    public void PairsAreVideosWithIdenticalLabelSets()
    {
        using var y = tensor(new float[] { 1, 0, 0, 1, 1, 0, 1, 1, 1, 0 }).reshape(5, 2);
        Assert.Equal(new[] { (0, 2), (0, 4), (2, 4) }, CoLALoss.SelectPairs(y));
    }

    [Fact]
    public void CrossVideoTermTakesHardSnippetsFromTheOtherVideo()
    {
        manual_seed(3);
        using var o = new CoLAOutput(ones(2, 2), ones(2, 4, 2), ones(2, 4), randn(2, 4, 5), randn(2, 4, 5), randn(2, 2, 5), randn(2, 2, 5));
        Tensor M(Tensor t, int i) => t[i].mean(new long[] { 0 }).unsqueeze(0);
        Tensor S(Tensor t, int i) => t[i].unsqueeze(0);
        double Direction(int easy, int hard) =>
            CoLALoss.Nce(M(o.HardAction, hard), M(o.EasyAction, easy), S(o.EasyBackground, easy)).item<float>()
            + CoLALoss.Nce(M(o.HardBackground, hard), M(o.EasyBackground, easy), S(o.EasyAction, easy)).item<float>();
        using var cv = CoLALoss.CrossVideo(o, 0, 1);
        Assert.Equal((Direction(0, 1) + Direction(1, 0)) / 2, cv.item<float>(), 4);
        // Not the in-video contrast of the same two videos.
        using var iv = CoLALoss.InVideo(o.EasyAction, o.HardAction, o.EasyBackground, o.HardBackground);
        Assert.NotEqual(iv.item<float>(), cv.item<float>(), 3);
    }

    [Fact]
    public void TotalLossUsesTheOfficialWeights()
    {
        manual_seed(4);
        using var model = new CoLA(Tiny);
        model.eval();
        using var x = randn(4, 40, 8);
        using var y = tensor(new float[] { 1, 0, 0, 1, 0, 0, 0, 1, 1, 1, 0, 0 }).reshape(4, 3); // pairs (0,1), (0,3), (1,3)
        using var o = model.call(x);
        var (total, cls, contrast, pairs) = CoLALoss.Total(o, y);
        Assert.Equal(3, pairs);
        using var expectCls = nn.functional.binary_cross_entropy(o.VideoScores, y / y.sum(1, keepdim: true));
        Assert.Equal(expectCls.item<float>(), cls.item<float>(), 5);
        double iv = CoLALoss.InVideo(o.EasyAction, o.HardAction, o.EasyBackground, o.HardBackground).item<float>();
        double cv = new[] { (0, 1), (0, 3), (1, 3) }.Sum(p => CoLALoss.CrossVideo(o, p.Item1, p.Item2).item<float>());
        Assert.Equal(iv + 0.2 / 3 * cv, contrast.item<float>(), 4);
        Assert.Equal(cls.item<float>() + 0.01 * (iv + 0.2 / 3 * cv), total.item<float>(), 4);

        var (_, _, offContrast, offPairs) = CoLALoss.Total(o, y, crossVideoWeight: 0);
        Assert.Equal(0, offPairs);
        Assert.Equal(iv, offContrast.item<float>(), 5);
        Assert.Throws<ArgumentException>(() => CoLALoss.Action(o.VideoScores, zeros(4, 3)));
    }

    [Fact]
    public void BackwardReachesEveryParameterAndTrainingLowersTheLoss()
    {
        manual_seed(5);
        var cfg = Tiny with { NumClasses = 2 };
        using var model = new CoLA(cfg);
        model.train();
        // Eight videos of 40 snippets: class c is present in snippets 10..19 (class 0) or 20..29 (class 1); a shared background.
        var feats = new float[8 * 40 * 8];
        var labels = new float[8 * 2];
        var rng = new Random(5);
        for (int v = 0; v < 8; v++)
        {
            int c = v % 2;
            labels[v * 2 + c] = 1;
            for (int t = 0; t < 40; t++)
                for (int d = 0; d < 8; d++)
                {
                    bool inAction = c == 0 ? t is >= 10 and < 20 : t is >= 20 and < 30;
                    float signal = inAction && d == c + 1 ? 3f : 0f;
                    feats[(v * 40 + t) * 8 + d] = (d == 0 ? 1f : 0f) + signal + (float)(rng.NextDouble() - 0.5) * 0.2f;
                }
        }
        using var x = tensor(feats, new long[] { 8, 40, 8 });
        using var y = tensor(labels, new long[] { 8, 2 });
        using var opt = new RootedAdam(model.parameters(), lr: 1e-2, weightDecay: 5e-4);
        var losses = new List<float>();
        for (int step = 0; step < 40; step++)
        {
            using var scope = NewDisposeScope();
            opt.zero_grad();
            using var o = model.call(x);
            var (total, _, _, pairs) = CoLALoss.Total(o, y);
            Assert.Equal(12, pairs); // two label sets of four videos: 2·C(4,2)
            total.backward();
            if (step == 0)
                foreach (var (name, p) in model.named_parameters())
                    Assert.True(p.grad is not null && p.grad.abs().sum().item<float>() > 0, $"no gradient for {name}");
            opt.step();
            losses.Add(total.item<float>());
        }
        Assert.True(losses.Skip(35).Average() < 0.8 * losses.Take(5).Average(), $"loss {losses[0]:0.0000} → {losses[^1]:0.0000}");

        // The trained teacher separates the two classes at video level.
        model.eval();
        using var final = model.call(x);
        var pred = final.VideoScores.argmax(1).data<long>().ToArray();
        Assert.Equal(Enumerable.Range(0, 8).Select(v => (long)(v % 2)), pred);
    }

    [Fact]
    public void RejectsInputsItCannotMine()
    {
        using var model = new CoLA(Tiny);
        Assert.Throws<ArgumentException>(() => model.call(randn(1, 10, 8)));  // k_hard = 0
        Assert.Throws<ArgumentException>(() => model.call(randn(1, 40, 7)));  // wrong feature size
    }
}

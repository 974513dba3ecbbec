using MLNetExtensions.Core.Torch;
using MLNetExtensions.Transforms.SqueezeTime;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.SqueezeTime;

/// <summary>Behaviour of the SqueezeTime model that does not need the parity fixtures.</summary>
public class SqueezeTimeModelTests
{
    private readonly ITestOutputHelper output;

    public SqueezeTimeModelTests(ITestOutputHelper output) => this.output = output;

    private static Tensor Randn(params long[] shape) => randn(shape);

    // Biases that feed a training-mode BatchNorm only through linear maps: BN subtracts the batch mean, so a constant
    // shift per channel cancels and their gradient is zero up to rounding (the depthwise downsample conv + its BN, and
    // the first two IOI gate convs, each followed by a BN).
    private static bool CancelledByBatchNorm(string name) =>
        name.EndsWith(".downsample.0.bias") || name.EndsWith(".downsample.1.bias")
        || name.EndsWith(".glo_conv.0.bias") || name.EndsWith(".glo_conv.3.bias");

    [Fact]
    public void TinyConfigForwardBackwardGivesEveryParameterAFiniteGradient()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var model = new SqueezeTimeModel(SqueezeTimeConfig.Tiny(numClasses: 4));
        model.train();
        var clip = Randn(2, 3, 8, 32, 32);
        var logits = model.call(clip);
        Assert.Equal(new long[] { 2, 4 }, logits.shape);
        Assert.False(logits.isnan().any().item<bool>());

        var loss = nn.functional.cross_entropy(logits, tensor(new long[] { 1, 3 }));
        loss.backward();
        var problems = new List<string>();
        var checkedZero = 0;
        var grads = model.named_parameters().ToDictionary(np => np.name, np => np.parameter.grad);
        foreach (var (name, p) in model.named_parameters())
        {
            var g = p.grad;
            if (g is null) { problems.Add(name + " (no grad)"); continue; }
            if (!g.isfinite().all().item<bool>()) { problems.Add(name + " (non-finite)"); continue; }
            var max = g.abs().max().item<float>();
            if (CancelledByBatchNorm(name))
            {
                checkedZero++;
                // "Zero up to rounding": small against the gradient of the same layer's weight.
                var weightMax = grads[name[..^"bias".Length] + "weight"]!.abs().max().item<float>();
                if (max > 1e-3f * weightMax) problems.Add($"{name} (expected ~0, got {max:E2} vs weight grad {weightMax:E2})");
            }
            else if (max == 0f) problems.Add(name + " (all zero)");
        }
        Assert.True(problems.Count == 0, "parameters without the expected gradient: " + string.Join(", ", problems));
        Assert.Equal(3 * 2 + 4 * 2, checkedZero); // 3 stride-2 stages × 2 downsample biases + 4 CTL modules × 2 gate biases
    }

    [Fact]
    public void TinyConfigMemorisesAFewClips()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        using var model = new SqueezeTimeModel(SqueezeTimeConfig.Tiny(numClasses: 2) with { DropoutRatio = 0 });
        var clips = Randn(4, 3, 8, 32, 32);
        var labels = tensor(new long[] { 0, 1, 0, 1 });
        using var optimizer = new RootedAdam(model.parameters(), lr: 5e-3);
        model.train();
        float first = 0, last = 0;
        for (var step = 0; step < 8; step++)
        {
            using var stepScope = NewDisposeScope();
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(model.call(clips), labels);
            loss.backward();
            optimizer.step();
            last = loss.item<float>();
            if (step == 0) first = last;
        }
        output.WriteLine($"loss {first:F4} → {last:F4}");
        Assert.True(last < 0.5f * first, $"loss did not fall: {first} → {last}");
    }

    [Fact]
    public void EvalIsDeterministicAndBatchIndependent()
    {
        using var scope = NewDisposeScope();
        manual_seed(11);
        using var a = new SqueezeTimeModel(SqueezeTimeConfig.Tiny());
        manual_seed(11);
        using var b = new SqueezeTimeModel(SqueezeTimeConfig.Tiny());
        a.eval();
        b.eval();
        var clips = Randn(3, 3, 8, 32, 32);
        using var _ = inference_mode();
        var all = a.call(clips);
        Assert.True(all.allclose(b.call(clips), rtol: 0, atol: 0), "same seed must build identical models");
        var single = a.call(clips[1..2]);
        Assert.True(single.allclose(all[1..2], rtol: 1e-5, atol: 1e-5), "a clip's logits must not depend on the rest of the batch in eval mode");
    }

    [Fact]
    public void TimeIsSqueezedColourMajor()
    {
        // Channel c·T + t of the stem input must hold colour c of frame t (the official x.view(N, -1, H, W)).
        using var scope = NewDisposeScope();
        var clip = arange(2 * 3 * 4 * 2 * 2, dtype: float32).reshape(new long[] { 2, 3, 4, 2, 2 });
        var squeezed = SqueezeTimeResNet.SqueezeTime(clip.permute(0, 1, 2, 3, 4));
        Assert.Equal(new long[] { 2, 12, 2, 2 }, squeezed.shape);
        for (var c = 0; c < 3; c++)
        for (var t = 0; t < 4; t++)
            Assert.True(squeezed[1, c * 4 + t].equal(clip[1, c, t]).all().item<bool>(), $"channel {c * 4 + t} ≠ colour {c} frame {t}");
        // A non-contiguous view gives the same squeeze as its contiguous copy.
        var strided = clip.transpose(3, 4);
        Assert.True(SqueezeTimeResNet.SqueezeTime(strided).equal(SqueezeTimeResNet.SqueezeTime(strided.contiguous())).all().item<bool>());
    }

    [Fact]
    public void BadInputsAreRejectedWithClearMessages()
    {
        using var scope = NewDisposeScope();
        using var model = new SqueezeTimeModel(SqueezeTimeConfig.Tiny());
        model.eval();

        var rank = Assert.Throws<ArgumentException>(() => model.call(Randn(2, 24, 32, 32)));
        Assert.Contains("rank 5", rank.Message);
        var channels = Assert.Throws<ArgumentException>(() => model.call(Randn(2, 8, 3, 32, 32)));
        Assert.Contains("3 colour channels", channels.Message);
        var frames = Assert.Throws<ArgumentException>(() => model.call(Randn(2, 3, 16, 32, 32)));
        Assert.Contains("T=8", frames.Message);
        Assert.Contains("T=16", frames.Message);
        var small = Assert.Throws<ArgumentException>(() => model.call(Randn(2, 3, 8, 16, 32)));
        Assert.Contains("height 16", small.Message);
        var dtype = Assert.Throws<ArgumentException>(() => model.call(zeros(new long[] { 2, 3, 8, 32, 32 }, dtype: int64)));
        Assert.Contains("floating-point", dtype.Message);
        Assert.Throws<ArgumentException>(() => model.ForwardFeatures(Randn(1, 3, 8, 32)));

        model.train();
        var batch = Assert.Throws<ArgumentException>(() => model.call(Randn(1, 3, 8, 32, 32)));
        Assert.Contains("at least 2", batch.Message);

        Assert.Throws<ArgumentException>(() => SqueezeTimeConfig.FromDepth(42));
        Assert.Throws<ArgumentException>(() => new SqueezeTimeModel(SqueezeTimeConfig.Tiny() with { SpatialStride = new[] { 1, 3, 2, 2 } }));
    }

    [Fact]
    public void SmallestValidSideIsAcceptedAndOneLessIsNot()
    {
        using var scope = NewDisposeScope();
        var config = SqueezeTimeConfig.Tiny();
        using var model = new SqueezeTimeModel(config);
        model.eval();
        using var _ = inference_mode();
        // ceil(ceil(H/2)/2) must be ≥ 8 for three 2×2/s2 downsamples: 29 is the smallest side.
        var min = (int)SqueezeTimeInput.MinSide(config);
        Assert.Equal(29, min);
        Assert.Equal(new long[] { 2, 10 }, model.call(Randn(2, 3, 8, min, min)).shape);
        Assert.Throws<ArgumentException>(() => model.call(Randn(2, 3, 8, min - 1, min)));
    }

    [Fact]
    public void BasicBlockVariantBuildsWithOfficialQuirkAndRuns()
    {
        using var scope = NewDisposeScope();
        var config = SqueezeTimeConfig.FromDepth(10, numClasses: 3, frames: 4, widenFactor: 0.125, posDim: new[] { 8, 4, 2, 1 });
        using var model = new SqueezeTimeModel(config);
        var keys = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        // First CTL of a BasicBlock always has a 7×7 embedding; the second follows the stage's pos_dim.
        Assert.Equal(new long[] { 1, 16, 7, 7 }, keys["backbone.net.layer2.0.conv1.spatial_conv.pos_embed"]);
        Assert.Equal(new long[] { 1, 16, 4, 4 }, keys["backbone.net.layer2.0.conv2.spatial_conv.pos_embed"]);
        Assert.False(keys.ContainsKey("backbone.net.layer1.0.shortcut_conv.0.weight")); // 8 → 8, no projection
        Assert.True(keys.ContainsKey("backbone.net.layer2.0.downsample.0.bias"));
        Assert.Equal(64, config.FeatureChannels);
        model.eval();
        using var _ = inference_mode();
        var logits = model.call(Randn(2, 3, 4, 32, 32));
        Assert.Equal(new long[] { 2, 3 }, logits.shape);
        Assert.False(logits.isnan().any().item<bool>());
    }

    [Fact]
    public void ReleasedK400ConfigHasTheOfficialSize()
    {
        // Method note §2.6, measured with the official code: backbone 28,887,088 parameters, K400 head 819,600.
        using var model = new SqueezeTimeModel(SqueezeTimeConfig.K400);
        Assert.Equal(28_887_088L, model.Backbone.parameters().Sum(p => p.numel()));
        Assert.Equal(819_600L, model.Head.parameters().Sum(p => p.numel()));
        Assert.Equal(new long[] { 56, 28, 14, 7 }, SqueezeTimeInput.StageSizes(224, SqueezeTimeConfig.K400));
        Assert.Equal(48, SqueezeTimeConfig.K400.InputChannels);
    }
}

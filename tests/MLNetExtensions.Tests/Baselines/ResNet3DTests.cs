using MLNetExtensions.Transforms.Baselines;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Baselines;

/// <summary>The torchvision-structured 3D-convolution video ResNet used as SqueezeTime's baseline.</summary>
public class ResNet3DTests
{
    private static long Count(nn.Module m) => m.parameters().Sum(p => p.numel());

    [Fact]
    public void TinyForwardGivesLogitsAndDownsampledFeatures()
    {
        using var scope = NewDisposeScope();
        manual_seed(0);
        using var net = new ResNet3D(ResNet3DConfig.Tiny(numClasses: 4));
        net.eval();
        var clip = randn(new long[] { 2, 3, 8, 32, 32 });
        using var mode = inference_mode();
        // Stem keeps T and halves H, W; stages 2–4 halve T, H and W: 8×32×32 → 8×16×16 → 1×2×2.
        Assert.Equal(new long[] { 2, 64, 1, 2, 2 }, net.ForwardFeatures(clip).shape);
        var logits = net.call(clip);
        Assert.Equal(new long[] { 2, 4 }, logits.shape);
        Assert.True(logits.isfinite().all().item<bool>());
    }

    [Fact]
    public void MixedConvolutionKeepsTimeAfterTheFirstStage()
    {
        using var scope = NewDisposeScope();
        var cfg = ResNet3DConfig.MC3_18(4) with { Widths = new[] { 8, 16, 32, 64 }, Layers = new[] { 1, 1, 1, 1 } };
        using var net = new ResNet3D(cfg);
        net.eval();
        using var mode = inference_mode();
        Assert.Equal(new long[] { 1, 64, 8, 2, 2 }, net.ForwardFeatures(randn(new long[] { 1, 3, 8, 32, 32 })).shape);
        var sd = net.state_dict();
        Assert.Equal(new long[] { 16, 8, 1, 3, 3 }, sd["layer2.0.conv1.0.weight"].shape);
        Assert.Equal(new long[] { 8, 8, 3, 3, 3 }, sd["layer1.0.conv1.0.weight"].shape);
    }

    [Fact]
    public void ParameterCountsMatchTorchvisionAndTheFormula()
    {
        var tiny = ResNet3DConfig.Tiny(numClasses: 4);
        using (var net = new ResNet3D(tiny))
        {
            Assert.Equal(tiny.ParameterCount(), Count(net));
            Assert.Equal(228_380, Count(net));
        }
        // torchvision's published counts (400 classes).
        using (var r3d = new ResNet3D(ResNet3DConfig.R3D18()))
        {
            Assert.Equal(33_371_472, Count(r3d));
            Assert.Equal(33_371_472, ResNet3DConfig.R3D18().ParameterCount());
        }
        using (var mc3 = new ResNet3D(ResNet3DConfig.MC3_18()))
            Assert.Equal(11_695_440, Count(mc3));
    }

    [Fact]
    public void StateDictUsesTorchvisionNames()
    {
        using var net = new ResNet3D(ResNet3DConfig.R3D18());
        var sd = net.state_dict();
        Assert.Equal(new long[] { 64, 3, 3, 7, 7 }, sd["stem.0.weight"].shape);
        Assert.Equal(new long[] { 64 }, sd["stem.1.running_var"].shape);
        Assert.Equal(new long[] { 128, 64, 3, 3, 3 }, sd["layer2.0.conv1.0.weight"].shape);
        Assert.Equal(new long[] { 128, 64, 1, 1, 1 }, sd["layer2.0.downsample.0.weight"].shape);
        Assert.Equal(new long[] { 512 }, sd["layer4.1.conv2.1.bias"].shape);
        Assert.Equal(new long[] { 400, 512 }, sd["fc.weight"].shape);
        Assert.DoesNotContain(sd.Keys, k => k.StartsWith("layer1.0.downsample") || k.StartsWith("layer2.1.downsample"));
        // r3d_18: 1 stem conv + 16 block convs + 3 shortcuts = 20 convs, each with a BN (5 entries) + fc (2).
        Assert.Equal(20 * 6 + 2, sd.Count);
    }

    [Fact]
    public void EveryParameterGetsAFiniteNonZeroGradient()
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        using var net = new ResNet3D(ResNet3DConfig.Tiny(numClasses: 4));
        net.train();
        var loss = nn.functional.cross_entropy(net.call(randn(new long[] { 2, 3, 8, 32, 32 })), tensor(new long[] { 0, 3 }));
        loss.backward();
        var bad = net.named_parameters()
            .Where(p => p.parameter.grad is not { } g || !g.isfinite().all().item<bool>() || g.abs().max().item<float>() == 0f)
            .Select(p => p.name).ToList();
        Assert.True(bad.Count == 0, "parameters without a usable gradient: " + string.Join(", ", bad));
    }

    [Fact]
    public void EvalIsBatchIndependent()
    {
        using var scope = NewDisposeScope();
        manual_seed(2);
        using var net = new ResNet3D(ResNet3DConfig.Tiny(numClasses: 4));
        net.eval();
        var clips = randn(new long[] { 3, 3, 8, 32, 32 });
        using var mode = inference_mode();
        var all = net.call(clips);
        var one = net.call(clips.narrow(0, 1, 1));
        Assert.True(all.narrow(0, 1, 1).allclose(one, rtol: 1e-4, atol: 1e-5));
    }

    [Fact]
    public void RejectsClipsOfTheWrongShape()
    {
        using var net = new ResNet3D(ResNet3DConfig.Tiny(numClasses: 4));
        using var image = zeros(2, 3, 32, 32);
        var e = Assert.Throws<ArgumentException>(() => net.call(image));
        Assert.Contains("(N, 3, T, H, W)", e.Message);
        using var gray = zeros(new long[] { 2, 1, 8, 32, 32 });
        Assert.Throws<ArgumentException>(() => net.call(gray));
        Assert.Throws<ArgumentException>(() => new ResNet3D(ResNet3DConfig.Tiny() with { Layers = new[] { 1, 1, 1 } }));
    }
}

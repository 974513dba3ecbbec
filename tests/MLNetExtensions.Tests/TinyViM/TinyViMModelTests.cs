using MLNetExtensions.Core.Torch;
using MLNetExtensions.Tests.Infrastructure;
using MLNetExtensions.Transforms.TinyViM;
using TorchSharp;
using TorchSharp.PyBridge;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.TinyViM;

/// <summary>Structure, training smoke, input validation, deploy form and official variants.</summary>
public sealed class TinyViMModelTests
{
    private readonly ITestOutputHelper _out;
    public TinyViMModelTests(ITestOutputHelper output) => _out = output;

    [ParityFact]
    public void StateDictKeysAndShapes_EqualOfficialFixture()
    {
        using var model = new TinyViMModel(TinyViMConfig.Tiny, 10, distillation: true);
        using var doc = SharedData.Fixture("tinyvim", "fixture.json");
        var expected = doc.RootElement.GetProperty("state_dict").EnumerateArray()
            .ToDictionary(e => e.GetProperty("key").GetString()!,
                e => string.Join("x", e.GetProperty("shape").EnumerateArray().Select(v => v.GetInt64())));
        var actual = model.state_dict().ToDictionary(kv => kv.Key, kv => string.Join("x", kv.Value.shape));
        Assert.Equal(441, expected.Count);
        Assert.Equal(expected.Keys.OrderBy(k => k, StringComparer.Ordinal), actual.Keys.OrderBy(k => k, StringComparer.Ordinal));
        foreach (var (k, shape) in expected) Assert.True(shape == actual[k], $"{k}: expected {shape}, got {actual[k]}");
        Assert.Equal(doc.RootElement.GetProperty("num_parameters").GetInt64(), model.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void ForwardBackward_TinyConfig_EveryParameterGetsFiniteGradient()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(0);
        using var model = new TinyViMModel(TinyViMConfig.Tiny, 5, distillation: true);
        model.train();
        var x = torch.randn(8, 3, 64, 96);
        var (head, dist) = model.ForwardHeads(x);
        Assert.Equal(new long[] { 8, 5 }, head.shape);
        Assert.Equal(new long[] { 8, 5 }, dist!.shape);
        var target = torch.tensor(new long[] { 1, 3, 0, 2, 4, 1, 1, 0 });
        var loss = nn.functional.cross_entropy(head, target) + nn.functional.cross_entropy(dist, target);
        loss.backward();
        Assert.True(float.IsFinite(loss.item<float>()));
        foreach (var (name, p) in model.named_parameters())
        {
            Assert.True(p.grad is not null, $"{name} has no gradient");
            Assert.False(p.grad!.isnan().any().item<bool>() || p.grad.isinf().any().item<bool>(), $"{name} gradient not finite");
            // Biases (and BN affines) that only shift channels right before a training-mode BatchNorm — e.g. RepDW's
            // inner biases, or a RepDW output feeding fc1 (conv → BN) — get exactly zero gradient, in the official model
            // too. Every weight tensor must receive a non-zero gradient.
            var shiftOnly = name.EndsWith("bias", StringComparison.Ordinal) || name.EndsWith("bn.weight", StringComparison.Ordinal);
            if (!shiftOnly) Assert.True(p.grad.abs().sum().item<float>() > 0, $"{name} gradient is all zero");
        }
        // forward = mean of both heads; ForwardFeatures has NumFeatures columns.
        using (torch.no_grad())
        {
            model.eval();
            var (h2, d2) = model.ForwardHeads(x);
            Assert.True(model.call(x).allclose((h2 + d2!) / 2, atol: 1e-6));
            Assert.Equal(new long[] { 8, model.NumFeatures }, model.ForwardFeatures(x).shape);
        }
    }

    [Fact]
    public void Training_MemorisesToyBatch()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(11);
        using var model = new TinyViMModel(TinyViMConfig.Micro, 4, distillation: false);
        model.train();
        var x = torch.randn(16, 3, 32, 32);
        var y = torch.arange(16, dtype: ScalarType.Int64) % 4;
        using var opt = new RootedAdamW(model.parameters(), lr: 3e-3);
        float first = 0, last = 0;
        // 12 steps: enough to halve the loss. With 2 intra-op threads an intermittent NaN from the native convolution was
        // seen in longer runs (see docs/tinyvim.md, "Open issue"); thread settings are left alone here as the brief asks.
        for (var step = 0; step < 12; step++)
        {
            using var s = torch.NewDisposeScope();
            opt.zero_grad();
            var loss = nn.functional.cross_entropy(model.call(x), y);
            loss.backward();
            opt.step();
            if (step == 0) first = loss.item<float>();
            last = loss.item<float>();
            Assert.True(float.IsFinite(last), $"loss not finite at step {step}");
        }
        _out.WriteLine($"toy training loss {first:F3} → {last:F3}");
        Assert.True(last < 0.5f * first, $"loss did not fall enough: {first} → {last}");
    }

    [Fact]
    public void Initialisation_FollowsOfficialRecipe()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(3);
        using var model = new TinyViMModel(TinyViMConfig.Tiny, 10);
        var sd = model.state_dict();
        foreach (var key in new[] { "network.4.0.mlp.fc1.c.weight", "head.weight", "patch_embed.2.c.weight" })
        {
            var std = sd[key].std().item<float>();
            Assert.True(Math.Abs(std - 0.02) < 0.003, $"{key}: std {std}, expected trunc-normal 0.02");
            Assert.True(Math.Abs(sd[key].mean().item<float>()) < 0.003, $"{key}: mean not ≈ 0");
        }
        Assert.Equal(0f, sd["network.0.0.dwconv.conv1.bias"].abs().max().item<float>());
        Assert.True(sd["network.0.0.layer_scale"].eq(1).all().item<bool>());
        var aLogs = sd["network.0.1.op.A_logs"];
        Assert.True(aLogs[5].allclose(torch.arange(1, 9, dtype: ScalarType.Float32).log()));
        Assert.True(sd["network.0.1.op.Ds"].eq(1).all().item<bool>());
        // softplus(dt_projs_bias) lies in [1e-4, 0.1] (dt init range, floor 1e-4).
        var dt = nn.functional.softplus(sd["network.0.1.op.dt_projs_bias"]);
        Assert.True(dt.min().item<float>() >= 0.99e-4 && dt.max().item<float>() <= 0.1001);
    }

    [Fact]
    public void NoDistillation_HasNoDistHeadAndReturnsHead()
    {
        using var scope = torch.NewDisposeScope();
        using var model = new TinyViMModel(TinyViMConfig.Micro, 10, distillation: false);
        Assert.DoesNotContain(model.state_dict().Keys, k => k.StartsWith("dist_head", StringComparison.Ordinal));
        model.eval();
        using var _ = torch.no_grad();
        var x = torch.randn(1, 3, 32, 64);
        var (head, dist) = model.ForwardHeads(x);
        Assert.Null(dist);
        Assert.True(model.call(x).allclose(head));
    }

    [Theory]
    [InlineData(new long[] { 3, 64, 64 }, "4-D")]
    [InlineData(new long[] { 1, 1, 64, 64 }, "3 input channels")]
    [InlineData(new long[] { 1, 3, 28, 28 }, "multiples of 32")]
    [InlineData(new long[] { 1, 3, 64, 80 }, "multiples of 32")]
    public void BadInput_ThrowsClearMessage(long[] shape, string expectedFragment)
    {
        using var scope = torch.NewDisposeScope();
        using var model = new TinyViMModel(TinyViMConfig.Micro, 10);
        var ex = Assert.Throws<ArgumentException>(() => model.call(torch.zeros(shape)));
        Assert.Contains(expectedFragment, ex.Message);
    }

    [ParityFact]
    public void SwitchToDeploy_KeepsOutput_RemovesBatchNorms_UsesOfficialDeployKeys()
    {
        using var scope = torch.NewDisposeScope();
        using var model = new TinyViMModel(TinyViMConfig.Tiny, 10);
        model.load_py(SharedData.Parity("tinyvim", "weights.pt"), strict: true);
        model.eval();
        var x = SharedData.Tensor("tinyvim", "input.npy");
        Tensor before;
        using (torch.inference_mode()) before = model.call(x);
        var modulesBefore = model.modules().Count();
        var bnBefore = model.modules().Count(m => m is MLNetExtensions.Core.Torch.SafeBatchNorm2d);

        model.SwitchToDeploy();
        Assert.True(model.IsDeployed);
        Tensor after;
        using (torch.inference_mode()) after = model.call(x);
        var err = SharedData.AssertClose(before, after, 1e-4, "deploy vs train form");
        SharedData.AssertClose(SharedData.Tensor("tinyvim", "output.npy"), after, 1e-4, "deploy vs official");
        var modulesAfter = model.modules().Count();
        var bnAfter = model.modules().Count(m => m is MLNetExtensions.Core.Torch.SafeBatchNorm2d);
        _out.WriteLine($"deploy: max abs diff {err:E3}; modules {modulesBefore} → {modulesAfter}; BatchNorm2d {bnBefore} → {bnAfter}");
        Assert.True(modulesAfter < modulesBefore);
        Assert.Equal(1, bnAfter); // only the final `norm`, as in the official replace_batchnorm
        var keys = model.state_dict().Keys.ToHashSet();
        Assert.Contains("patch_embed.0.weight", keys);
        Assert.Contains("patch_embed.0.bias", keys);
        Assert.Contains("network.0.0.dwconv.weight", keys);
        Assert.Contains("network.0.1.op.conv2d.dwconv_w.weight", keys);
        Assert.Contains("network.1.proj.bias", keys);
        Assert.DoesNotContain(keys, k => k.Contains(".bn.", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("TinyViM_S", 5_684_084L, 5_909_084L, 5_873_832L)]
    [InlineData("B", 11_129_236L, 11_514_236L, -1L)]
    [InlineData("tinyvim-l", 31_867_256L, 32_380_256L, -1L)]
    public void OfficialVariants_BuildOnMeta_WithNoteParameterCounts(string name, long withoutDist, long withDist, long deployed)
    {
        var config = TinyViMConfig.Named(name);
        var previous = torch.get_default_device();
        torch.set_default_device(torch.META);
        try
        {
            using (var m = new TinyViMModel(config, 1000, distillation: false))
                Assert.Equal(withoutDist, m.parameters().Sum(p => p.numel()));
            using var model = new TinyViMModel(config, 1000, distillation: true);
            Assert.Equal(withDist, model.parameters().Sum(p => p.numel()));
            Assert.Equal(5, model.Mixers.Count); // one TViMBlock per stage + one in the middle of stage 3
            if (deployed > 0)
            {
                model.eval();
                model.SwitchToDeploy();
                Assert.Equal(deployed, model.parameters().Sum(p => p.numel()));
            }
        }
        finally
        {
            torch.set_default_device(previous);
        }
    }

    [Fact]
    public void Named_UnknownVariant_ListsValidNames()
    {
        Assert.Same(TinyViMConfig.S, TinyViMConfig.Named("s"));
        Assert.Same(TinyViMConfig.Tiny, TinyViMConfig.Named("Tiny"));
        var ex = Assert.Throws<ArgumentException>(() => TinyViMConfig.Named("TinyViM_XL"));
        foreach (var v in new[] { "TinyViM_S", "TinyViM_B", "TinyViM_L", "Tiny", "Micro" }) Assert.Contains(v, ex.Message);
    }
}

using MLNetExtensions.Tests.Infrastructure;
using MLNetExtensions.Transforms.Slab;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.PyBridge;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Slab;

/// <summary>Re-parameterised (BN-folded) inference form against the unfolded model and the official folded weights.</summary>
public class SlabFoldParityTests(ITestOutputHelper log)
{
    [ParityFact]
    public void Swin_SwitchToDeploy_EqualsUnfoldedAndLoadsOfficialFoldedWeights()
    {
        using var x = SlabFixtures.Tensor("fold", "input.npy");
        using var model = new SlabSwinTransformer(SlabModelParityTests.TinySwin);
        model.load_py(SlabFixtures.Path("weights.pt"), strict: true);
        model.eval();
        using var unfolded = model.call(x);
        SlabFixtures.Close(log, SlabFixtures.Tensor("fold", "output_unfolded.npy"), unfolded, "swin unfolded");

        Assert.Same(model, model.SwitchToDeploy());
        Assert.True(model.IsDeployed);
        Assert.Empty(PRepBN.Enumerate(model));
        Assert.DoesNotContain(model.modules(), m => m is LayerNorm || m is IFoldableNorm);
        using var folded = model.call(x);
        SlabFixtures.Close(log, unfolded, folded, "swin folded vs unfolded (ours)");
        SlabFixtures.Close(log, SlabFixtures.Tensor("fold", "output_folded.npy"), folded, "swin folded vs official folded");
        SlabFixtures.Close(log, SlabFixtures.Tensor("fold", "output_folded_headfold.npy"), folded, "swin folded vs official head-fold");

        // The folded layout: the official folded state dict (48 keys, reduction gains a bias).
        using var fx = SharedData.Fixture("slab", "fold", "fixture.json");
        var expected = fx.RootElement.GetProperty("folded_state_dict").EnumerateArray()
            .Select(e => e.GetProperty("key").GetString()!).OrderBy(s => s, StringComparer.Ordinal);
        Assert.Equal(expected, model.state_dict().Keys.OrderBy(s => s, StringComparer.Ordinal));

        using var deployed = new SlabSwinTransformer(SlabModelParityTests.TinySwin).SwitchToDeploy();
        deployed.load_py(SlabFixtures.Path("fold", "weights_folded.pt"), strict: true);
        using var y = deployed.call(x);
        SlabFixtures.Close(log, SlabFixtures.Tensor("fold", "output_folded.npy"), y, "official folded weights in our deploy form");
    }

    [ParityFact]
    public void Swin_FinalNormIntoLastStage_ReproducesOfficialFoldedWeights()
    {
        using var x = SlabFixtures.Tensor("fold", "input.npy");
        using var model = new SlabSwinTransformer(SlabModelParityTests.TinySwin);
        model.load_py(SlabFixtures.Path("weights.pt"), strict: true);
        model.SwitchToDeploy(FinalNormFold.IntoLastStage);
        using var y = model.call(x);
        SlabFixtures.Close(log, SlabFixtures.Tensor("fold", "output_folded.npy"), y, "swin folded (last-stage push) vs official folded");

        // The official folded checkpoint was made this way: every folded tensor must match it.
        using var official = new SlabSwinTransformer(SlabModelParityTests.TinySwin).SwitchToDeploy();
        official.load_py(SlabFixtures.Path("fold", "weights_folded.pt"), strict: true);
        var ours = model.state_dict();
        double worst = 0;
        foreach (var (key, value) in official.state_dict())
        {
            using var scale = value.abs().max().to(float64) + 1.0;
            using var diff = (value.to(float64) - ours[key].to(float64)).abs().max() / scale;
            worst = Math.Max(worst, diff.item<double>());
        }
        log.WriteLine($"folded weights vs official weights_folded.pt: max relative diff {worst:E2}");
        Assert.True(worst < 1e-5, $"folded weights differ: {worst}");
    }

    [Fact]
    public void SwinBackbone_WithoutHead_FoldsFinalNormIntoLastStage()
    {
        torch.manual_seed(7);
        var cfg = new SlabSwinConfig { ImgSize = 16, PatchSize = 2, InChans = 1, NumClasses = 0, EmbedDim = 16, Depths = [1, 1], NumHeads = [2, 2], AttnType = "LL", Norm = TokenNormKind.RepBN };
        using var model = new SlabSwinTransformer(cfg);
        using (torch.no_grad())
            foreach (var (name, t) in model.named_buffers())
                if (name.EndsWith("running_mean")) t.normal_(0, 0.5); else if (name.EndsWith("running_var")) t.uniform_(0.5, 2);
        model.eval();
        using var x = torch.randn(2, 1, 16, 16);
        using var before = model.call(x);
        Assert.Equal(new long[] { 2, 32 }, before.shape);
        Assert.Throws<InvalidOperationException>(() => model.SwitchToDeploy());
        model.SwitchToDeploy(FinalNormFold.IntoLastStage);
        using var after = model.call(x);
        SlabFixtures.Close(log, before, after, "backbone features folded vs unfolded", 1e-4);
    }

    [ParityFact]
    public void Deit_SwitchToDeploy_EqualsUnfoldedAndLoadsOfficialFoldedWeights()
    {
        using var x = SlabFixtures.Tensor("fold_deit", "input.npy");
        using var model = new SlabDeit(SlabModelParityTests.TinyDeit);
        model.load_py(SlabFixtures.Path("deit", "weights.pt"), strict: true);
        model.eval();
        using var unfolded = model.call(x);
        SlabFixtures.Close(log, SlabFixtures.Tensor("fold_deit", "output_unfolded.npy"), unfolded, "deit unfolded");
        model.SwitchToDeploy();
        using var folded = model.call(x);
        SlabFixtures.Close(log, unfolded, folded, "deit folded vs unfolded (ours)");
        SlabFixtures.Close(log, SlabFixtures.Tensor("fold_deit", "output_folded.npy"), folded, "deit folded vs official folded");

        using var deployed = new SlabDeit(SlabModelParityTests.TinyDeit).SwitchToDeploy();
        deployed.load_py(SlabFixtures.Path("fold_deit", "weights_folded.pt"), strict: true);
        using var y = deployed.call(x);
        SlabFixtures.Close(log, SlabFixtures.Tensor("fold_deit", "output_folded.npy"), y, "official deit folded weights in our deploy form");
    }

    [Fact]
    public void SwitchToDeploy_OnLayerNormModel_ThrowsClearError()
    {
        using var model = new SlabDeit(SlabModelParityTests.TinyDeit with { Norm = TokenNormKind.LayerNorm, Depth = 1 });
        var ex = Assert.Throws<InvalidOperationException>(() => model.SwitchToDeploy());
        Assert.Contains("LayerNorm", ex.Message);
        Assert.False(model.IsDeployed);
    }
}

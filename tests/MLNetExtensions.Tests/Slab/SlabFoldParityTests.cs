using MLNetExtensions.Tests.Infrastructure;
using MLNetExtensions.Transforms.Layers;
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

using MLNetExtensions.Transforms.GeminiFusion;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.GeminiFusion;

/// <summary>The ablation switches and simple-fusion baselines compute what they claim, against the official layer.</summary>
public class GeminiFusionAblationTests
{
    private static (GeminiFusionLayer Layer, Tensor[] X) Make(int seed = 4)
    {
        torch.manual_seed(seed);
        var layer = new GeminiFusionLayer(16, 2, 8);
        using (torch.no_grad())
            foreach (var p in layer.parameters()) p.mul_(5.0.ToScalar()); // enlarged so that both keys carry weight
        layer.eval();
        return (layer, new[] { torch.randn(2, 10, 16), torch.randn(2, 10, 16) });
    }

    private static double MaxDiff(Tensor a, Tensor b) => (a - b).abs().max().item<float>();

    [Fact]
    public void NoiseFixedZero_IsTheOfficialLayerWithZeroNoiseRows()
    {
        var (layer, x) = Make();
        using var _ = layer;
        layer.NoiseFixedZero = true;
        var ablated = layer.call(x);
        using (torch.no_grad()) { layer.KeyNoise.weight!.zero_(); layer.ValueNoise.weight!.zero_(); }
        layer.NoiseFixedZero = false;
        var official = layer.call(x);
        for (int m = 0; m < 2; m++) Assert.True(MaxDiff(ablated[m], official[m]) < 1e-6);
    }

    [Fact]
    public void ConstantRelation_IsTheOfficialLayerWithAUniformJudger()
    {
        var (layer, x) = Make();
        using var _ = layer;
        layer.ConstantRelation = true;
        var ablated = layer.call(x);
        // A judger whose last Linear outputs a constant gives softmax = 1/C exactly.
        var fc2 = ((MLNetExtensions.Transforms.Layers.Mlp)layer.RelationJudger.children().First()).Fc2;
        using (torch.no_grad()) foreach (var p in fc2.parameters()) p.zero_();
        layer.ConstantRelation = false;
        var official = layer.call(x);
        for (int m = 0; m < 2; m++) Assert.True(MaxDiff(ablated[m], official[m]) < 1e-6);
        Assert.True(MaxDiff(ablated[0], x[0]) > 1e-3, "the constant gate must still fuse");
    }

    [Fact]
    public void SimpleFusions_AndDisabledLayers()
    {
        var (layer, x) = Make();
        using var _ = layer;
        layer.SimpleFusion = SimpleFusionKind.Add;
        var add = layer.call(x);
        Assert.True(MaxDiff(add[0], x[0] + x[1]) < 1e-6);
        Assert.True(MaxDiff(add[1], x[1] + x[0]) < 1e-6);
        layer.SimpleFusion = SimpleFusionKind.Concat;
        var cat = layer.call(x);
        var mlp = (nn.Module<Tensor, Tensor>)layer.RelationJudger.children().First();
        Assert.True(MaxDiff(cat[0], x[0] + mlp.call(torch.cat([x[0], x[1]], -1))) < 1e-6);
        Assert.True(MaxDiff(cat[1], x[1] + mlp.call(torch.cat([x[1], x[0]], -1))) < 1e-6);
        layer.SimpleFusion = SimpleFusionKind.None;
        layer.Enabled = false;
        var off = layer.call(x);
        Assert.True(MaxDiff(off[0], x[0]) == 0 && MaxDiff(off[1], x[1]) == 0);
    }

    [Fact]
    public void Ablation_SetsEveryLayer_AndLastStageOnlyLeavesEarlierStagesUnfused()
    {
        torch.manual_seed(1);
        var a = new GeminiFusionArchitecture(MitConfig.Small, 2, 16, 32, 32) { Ablation = new GeminiFusionAblation(NoiseFixedZero: true, FuseFromStage: 1) };
        using var net = a.CreateModule(4);
        var stage0 = net.Encoder.Blocks(0).Select(b => b.Attention.Fusion).ToList();
        var stage1 = net.Encoder.Blocks(1).Select(b => b.Attention.Fusion).ToList();
        Assert.All(stage0, f => Assert.False(f.Enabled));
        Assert.All(stage1, f => Assert.True(f.Enabled && f.NoiseFixedZero));
        // The official keys stay, so the ablated model still loads official checkpoints.
        Assert.Contains("encoder.block1.0.attn.k_noise.weight", net.state_dict().Keys);
        Assert.Throws<ArgumentOutOfRangeException>(() => new GeminiFusionAblation(FuseFromStage: 2).Apply(net.Encoder));
        // The record round-trips through the saved JSON.
        var back = System.Text.Json.JsonSerializer.Deserialize<GeminiFusionArchitecture>(System.Text.Json.JsonSerializer.Serialize(a))!;
        Assert.Equal(a.Ablation, back.Ablation);
    }
}

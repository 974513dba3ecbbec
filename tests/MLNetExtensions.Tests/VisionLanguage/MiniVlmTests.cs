using MLNetExtensions.Core.Text;
using MLNetExtensions.Transforms.VisionLanguage;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.VisionLanguage;

public class MiniVlmTests
{
    internal static MiniVlm Model(int d = 32, int layers = 2, int heads = 4, long seed = 1)
    {
        torch.manual_seed(seed);
        var m = new MiniVlm(new MiniVlmConfig(VocabSize: 27, DModel: d, Layers: layers, Heads: heads, MaxPositions: 40));
        m.eval();
        return m;
    }

    [Fact]
    public void SpliceReplacesThePlaceholderByTheVisionTokensAtEachRowsOwnIndex()
    {
        using var scope = NewDisposeScope();
        var ids = tensor(new long[] { 2, 5, 7, 8, 0, 2, 9, 9, 5, 7 }, new long[] { 2, 5 });   // s = 1 and s = 3
        var mask = tensor(new long[] { 1, 1, 1, 1, 0, 1, 1, 1, 1, 1 }, new long[] { 2, 5 });
        var emb = randn(2, 5, 4);
        var z = randn(2, 3, 4);
        var (e, m, s) = MiniVlm.Splice(emb, ids, mask, z);
        Assert.Equal(new long[] { 1, 3 }, s);
        Assert.Equal(new long[] { 2, 7, 4 }, e.shape);
        Assert.True(e[0].narrow(0, 1, 3).equal(z[0]).all().item<bool>());
        Assert.True(e[1].narrow(0, 3, 3).equal(z[1]).all().item<bool>());
        Assert.True(e[0].narrow(0, 4, 2).equal(emb[0].narrow(0, 2, 2)).all().item<bool>());
        Assert.Equal(new long[] { 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1 }, m.data<long>().ToArray());
        Assert.Throws<ArgumentException>(() => MiniVlm.Splice(emb, tensor(new long[] { 2, 7, 7, 8, 0, 2, 5, 5, 9, 7 }, new long[] { 2, 5 }), mask, z));
    }

    [Fact]
    public void ForwardGivesLogitsVisionTokensAndLayerZeroAttentionAndTheTowerGetsNoGradient()
    {
        using var m = Model();
        m.train();
        using var scope = NewDisposeScope();
        var scenes = rand(2, 1, 56, 56);
        var grid = m.VisionGrid(scenes);
        Assert.Equal(new long[] { 2, 32, 8, 8 }, grid.shape);
        var ids = tensor(new long[] { 2, 5, 6, 7, 8, 9, 2, 5, 6, 7, 9, 9 }, new long[] { 2, 6 });
        using var o = m.Run(grid, ids, attentionLayer0: true);
        Assert.Equal(new long[] { 2, 21, 27 }, o.Logits.shape);
        Assert.Equal(new long[] { 2, 16, 32 }, o.VisionTokens.shape);
        Assert.Equal(new long[] { 2, 4, 21, 21 }, o.Attention!.shape);
        Assert.True(o.Attention.sum(-1).allclose(ones(2, 4, 21), 0, 1e-5));
        o.Logits.sum().backward();
        Assert.All(m.VisionTower.parameters(), p => Assert.Null(p.grad));
        Assert.NotNull(m.Projector.parameters().First().grad);
    }

    [Fact]
    public void SceneGridEqualsTheTilingOfPerItemGrids()
    {
        using var m = Model();
        using var scope = NewDisposeScope();
        var items = rand(4, 1, 28, 28);
        var scene = items.reshape(2, 2, 28, 28).permute(0, 2, 1, 3).reshape(1, 1, 56, 56);   // TL TR / BL BR
        var tiled = ConvVisionTower.TileQuadrants(m.VisionTower.Grid(items).unsqueeze(0));
        Assert.True(m.VisionGrid(scene).allclose(tiled, 0, 1e-5));
    }
}

using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Core;

/// <summary>MacCounter against counts done by hand.</summary>
public sealed class MacCounterTests
{
    // conv 2→4 (3×3, pad 1), depth-wise conv 4→4 (3×3, groups 4), flatten, Linear 100→3, and a reported matmul.
    private sealed class Tiny : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d conv = nn.Conv2d(2, 4, 3, padding: 1);
        private readonly Conv2d dw = nn.Conv2d(4, 4, 3, padding: 1, groups: 4);
        private readonly Linear fc = nn.Linear(100, 3);

        public Tiny() : base(nameof(Tiny)) => RegisterComponents();

        public override Tensor forward(Tensor x)
        {
            using var scope = torch.NewDisposeScope();
            var h = fc.call(dw.call(conv.call(x)).flatten(1));          // (B, 3)
            var g = h.unsqueeze(-1).matmul(h.unsqueeze(1));              // (B, 3, 1) @ (B, 1, 3)
            MacCounter.AddMatmul(this, "outer", h.unsqueeze(-1), h.unsqueeze(1));
            return g.MoveToOuterDisposeScope();
        }
    }

    // By hand, per image: conv 4·5·5 outputs × 2·3·3 = 1,800; depth-wise 100 × 1·3·3 = 900; Linear 3 × 100 = 300;
    // the outer product 3 × 1 × 3 = 9. Parameters: 4·2·9 + 4 = 76, 4·9 + 4 = 40, 300 + 3 = 303.
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void TinyModule_MatchesTheHandCount(int batch)
    {
        using var scope = torch.NewDisposeScope();
        using var m = new Tiny();
        var x = torch.randn(batch, 2, 5, 5);
        var r = MacCounter.Count(m, () => m.call(x));
        Assert.Equal(batch * (1800L + 900 + 300 + 9), r.Macs);
        Assert.Equal(76L + 40 + 303, r.Parameters);
        Assert.Equal(batch * 1800L, r.ByModule["conv"]);
        Assert.Equal(batch * 900L, r.ByModule["dw"]);
        Assert.Equal(batch * 300L, r.ByModule["fc"]);
        Assert.Equal(batch * 9L, r.ByModule["(root).outer"]);
    }

    [Fact]
    public void HooksAreRemoved_AndReportsOutsideACountAreIgnored()
    {
        using var scope = torch.NewDisposeScope();
        using var m = new Tiny();
        var x = torch.randn(1, 2, 5, 5);
        var first = MacCounter.Count(m, () => m.call(x));
        m.call(x); // no count running: the module's report and the (removed) hooks do nothing
        Assert.False(MacCounter.Active);
        var second = MacCounter.Count(m, () => { m.call(x); m.call(x); });
        Assert.Equal(2 * first.Macs, second.Macs); // each call counted once, no hook left over from the first count
    }

    [Fact]
    public void BroadcastMatmul_CountsTheBroadcastBatch()
    {
        using var m = new Tiny();
        var r = MacCounter.Count(m, () =>
        {
            using var a = torch.zeros(2, 1, 4, 5);
            using var b = torch.zeros(3, 5, 6);
            MacCounter.AddMatmul(m, "bmm", a, b); // batch 2×3, 4×5×6
        });
        Assert.Equal(2L * 3 * 4 * 5 * 6, r.Macs);
        var ex = Assert.Throws<ArgumentException>(() => MacCounter.Count(m, () => MacCounter.AddMatmul(m, "bad", torch.zeros(2, 3), torch.zeros(4, 5))));
        Assert.Contains("Not a matmul", ex.Message);
    }
}

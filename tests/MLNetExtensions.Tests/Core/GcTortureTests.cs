using MLNetExtensions.Core.Torch;
using MLNetExtensions.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Core;

/// <summary>Issue 13.3: the temporary-Scalar race, reproduced with forced collections, and the rooted paths surviving it.</summary>
public sealed class GcTortureTests
{
    private readonly ITestOutputHelper _out;
    public GcTortureTests(ITestOutputHelper output) => _out = output;

    // Unrooted softplus: TorchSharp converts beta and threshold to temporaries inside. Returns the first failure seen.
    private static Exception? Hammer(Func<Tensor, Tensor> op, TimeSpan budget, out long calls)
    {
        using var x = torch.randn(new long[] { 256, 1024 });
        var sw = System.Diagnostics.Stopwatch.StartNew();
        calls = 0;
        while (sw.Elapsed < budget)
        {
            try
            {
                using var y = op(x);
                calls++;
            }
            catch (Exception e) { return e; }
        }
        return null;
    }

    [Fact]
    public void Rooted_ops_survive_forced_collections()
    {
        using var torture = GcTorture.Start();
        var failure = Hammer(x => x.Softplus().Plus(x).Times(0.5).LeakyRelu(0.1), TimeSpan.FromSeconds(3), out long calls);
        _out.WriteLine($"{calls} rooted calls, {torture.Collections} forced collections");
        Assert.Null(failure);
        Assert.True(torture.Collections > 10, "the torture thread must actually collect");
    }

    [OptInFact("MLNETEXT_GC_TORTURE_DEMO")]
    public void Unprotected_TorchSharp_call_fails_under_forced_collections()
    {
        // A demonstration of the race (it needs time to hit), so opt-in.
        using var torture = GcTorture.Start();
        var failure = Hammer(x => nn.functional.softplus(x, 1, 20).add(x), TimeSpan.FromSeconds(120), out long calls);
        _out.WriteLine($"{calls} unprotected calls, {torture.Collections} forced collections: {failure?.GetType().Name}: {failure?.Message.Split('\n')[0]}");
        Assert.NotNull(failure);
    }
}

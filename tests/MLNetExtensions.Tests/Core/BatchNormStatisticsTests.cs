using MLNetExtensions.Core.Training;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Core;

public class BatchNormStatisticsTests
{
    [Fact]
    public void RecalibrationReplacesStaleRunningStatisticsWithTheDataStatistics()
    {
        torch.manual_seed(0);
        using var bn = nn.BatchNorm2d(4);
        using var model = nn.Sequential(("conv", nn.Conv2d(3, 4, 3, padding: 1)), ("bn", bn));
        var batches = Enumerable.Range(0, 5).Select(_ => torch.randn(8, 3, 6, 6) * 0.05).ToArray();
        // Stale: the initial running variance (1) dominates after few momentum updates.
        model.train();
        using (torch.no_grad()) model.call(batches[0]);
        Assert.True(bn.running_var!.min().item<float>() > 0.5f);

        int n = BatchNormStatistics.Recalibrate(model, batches.Select(b => (Action)(() => model.call(b))));
        Assert.Equal(1, n);
        Assert.False(bn.training);
        Assert.Equal(0.1, bn.momentum); // restored
        using var all = torch.cat(batches, 0);
        using var feat = ((nn.Module<Tensor, Tensor>)model.children().First()).call(all).detach();
        var expectedVar = feat.var(new long[] { 0, 2, 3 }); // per-channel, unbiased — what BatchNorm keeps
        Assert.True(expectedVar.allclose(bn.running_var!, rtol: 0.05, atol: 1e-6), "running variance should match the data");
        Assert.True(bn.running_var!.max().item<float>() < 0.5f);
    }
}

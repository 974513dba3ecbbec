using MLNetExtensions.Tests.Infrastructure;
using MLNetExtensions.Core.Torch;
using MLNetExtensions.Core.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Core;

public class SafeBatchNormTests
{
    /// <summary>Same keys, same outputs, same running statistics and batch count as TorchSharp's BatchNorm2d, in train and eval.</summary>
    [NotUnderGcTortureFact]
    public void MatchesTorchSharpBatchNormInTrainAndEval()
    {
        torch.manual_seed(0);
        using var reference = nn.BatchNorm2d(5, eps: 1e-3, momentum: 0.2);
        using var safe = new SafeBatchNorm2d(5, eps: 1e-3, momentum: 0.2);
        using (torch.no_grad()) { reference.weight!.uniform_(0.5, 1.5); reference.bias!.normal_(); }
        safe.load_state_dict(reference.state_dict());
        Assert.Equal(reference.state_dict().Keys.OrderBy(k => k), safe.state_dict().Keys.OrderBy(k => k));

        reference.train(); safe.train();
        for (int i = 0; i < 4; i++)
        {
            using var scope = torch.NewDisposeScope();
            var x = torch.randn(6, 5, 4, 3) * (i + 1) + i;
            Assert.True(reference.call(x).allclose(safe.call(x), rtol: 0, atol: 1e-6), $"train output, batch {i}");
        }
        Assert.True(reference.running_mean!.allclose(safe.running_mean!, rtol: 0, atol: 1e-6));
        Assert.True(reference.running_var!.allclose(safe.running_var!, rtol: 0, atol: 1e-6));
        Assert.Equal(4L, safe.num_batches_tracked!.item<long>());
        Assert.Equal(reference.num_batches_tracked!.item<long>(), safe.num_batches_tracked!.item<long>());

        reference.eval(); safe.eval();
        using var y = torch.randn(2, 5, 4, 3);
        Assert.True(reference.call(y).allclose(safe.call(y), rtol: 0, atol: 1e-6), "eval output uses the running statistics");
        Assert.Contains("4-D", Assert.Throws<ArgumentException>(() => safe.call(torch.randn(2, 5))).Message);
    }

    /// <summary>Momentum null is the cumulative average, which the shared post-training recalibration relies on.</summary>
    [Fact]
    public void NullMomentumIsTheCumulativeAverageAndRecalibrationHandlesIt()
    {
        torch.manual_seed(1);
        using var bn = new SafeBatchNorm1d(3);
        using var model = nn.Sequential(("bn", bn));
        var batches = Enumerable.Range(0, 3).Select(i => torch.randn(10, 3) * 2 + i).ToArray();
        int n = BatchNormStatistics.Recalibrate(model, batches.Select(b => (Action)(() => model.call(b))));
        Assert.Equal(1, n);
        Assert.Equal(0.1, bn.momentum); // restored
        // Cumulative average of the per-batch means = mean of the three batch means.
        using var expected = torch.stack(batches.Select(b => b.mean(new long[] { 0 })).ToArray()).mean(new long[] { 0 });
        Assert.True(expected.allclose(bn.running_mean!, rtol: 0, atol: 1e-5));
        Assert.Equal(3L, bn.num_batches_tracked!.item<long>());
    }
}

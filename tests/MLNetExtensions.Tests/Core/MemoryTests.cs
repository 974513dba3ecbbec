using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using MLNetExtensions.Transforms.Datasets;

namespace MLNetExtensions.Tests.Core;

/// <summary>No tensor leaks: the live native tensor count stays flat over many inference batches.</summary>
public class MemoryTests
{
    [Fact]
    public void LiveTensorCountDoesNotGrowOverManyInferenceBatches()
    {
        var ml = new MLContext(1);
        var data = FashionMnist.Load(ml, FashionMnistSplit.Test, 256);
        using var model = new TestCnnTrainer(ml, new TestCnnTrainer.Options { ImageColumnName = "Pixels", MaxEpochs = 1, Seed = 1 }).Fit(data);
        model.InferenceBatchSize = 8;
        void Pass() { foreach (var _ in model.Transform(data).GetColumn<VBuffer<float>>("Score")) { } }
        Pass(); // warm-up
        DisposeScopeManager.Statistics.Reset();
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 10; i++) Pass(); // 10 × 32 batches
        long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Assert.True(after - before <= 0, $"live tensors grew by {after - before} over 320 batches");
        Assert.True(DisposeScopeManager.Statistics.CreatedInScopeCount > 0, "the scoring path did not create tensors in scopes");
    }
}

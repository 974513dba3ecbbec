using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.IO;
using MLNetExtensions.Estimators.TinyViM;
using MLNetExtensions.Tests.Infrastructure;
using MLNetExtensions.Transforms.TinyViM;
using TorchSharp;
using Xunit;
using MLNetExtensions.Transforms.Datasets;

namespace MLNetExtensions.Tests.TinyViM;

/// <summary>The TinyViM estimator end to end on real Fashion-MNIST images (embedded subset).</summary>
public class TinyViMClassifierTests
{
    private static TinyViMClassifier.Options Quick() => new()
    {
        Variant = "Micro", MaxEpochs = 2, BatchSize = 32, LearningRate = 1e-3, GradientClipNorm = 1.0, Seed = 11, LabelSmoothing = 0,
        Mean = new[] { 0.286f, 0.286f, 0.286f }, Std = new[] { 0.353f, 0.353f, 0.353f },
    };

    [Fact]
    public void TrainsThroughTheCatalogServesTheDeployFormAndRoundTrips()
    {
        var ml = new MLContext(seed: 1);
        var train = FashionMnist.Load(ml, FashionMnistSplit.Train, 1200);
        var test = FashionMnist.Load(ml, FashionMnistSplit.Test, 300);
        var pipeline = ml.Transforms.ResizeImages("Image", 32, 32, "Image")
            .Append(ml.MulticlassClassification.Trainers.TinyViM(Quick()));
        var model = pipeline.Fit(train);
        var scored = model.Transform(test);
        var metrics = ml.MulticlassClassification.Evaluate(scored);
        Assert.True(metrics.MicroAccuracy > 0.4, $"accuracy {metrics.MicroAccuracy:F3} (chance 0.1)");

        var clf = (MLNetExtensions.Core.Inference.TorchImageClassificationTransformer)model.LastTransformer;
        var net = Assert.IsType<TinyViMModel>(clf.Network);
        Assert.True(net.IsDeployed, "the served network should be the folded deploy form");
        Assert.DoesNotContain(net.named_modules(), m => m.module is MLNetExtensions.Core.Torch.SafeBatchNorm2d && m.name.Contains("network"));

        var zip = Path.Combine(Directory.CreateTempSubdirectory("tinyvim").FullName, "m.zip");
        ml.Model.Save(model, train.Schema, zip);
        var loaded = new MLContext().RegisterMLNetExtensions().Model.Load(zip, out _);
        var a = scored.GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray();
        var b = loaded.Transform(test).GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray();
        Assert.Equal(a, b);
        ((IDisposable)loaded).Dispose();
        clf.Dispose();
    }

    [Fact]
    public void RejectsImagesThatAreNotMultiplesOf32WithAHint()
    {
        var ml = new MLContext(seed: 1);
        var train = FashionMnist.Load(ml, FashionMnistSplit.Train, 64);
        var e = Assert.ThrowsAny<ArgumentException>(() => ml.MulticlassClassification.Trainers.TinyViM(Quick()).Fit(train));
        Assert.Contains("'Image'", e.Message);
        Assert.Contains("ResizeImages", e.Message);
        Assert.ThrowsAny<ArgumentException>(() => ml.MulticlassClassification.Trainers.TinyViM(new TinyViMClassifier.Options { Variant = "XXL" }));
    }

    [ParityFact]
    public void StartsFromAnOfficialCheckpoint()
    {
        // The fixture's weights.pt is the official TinyViM (tiny config, 10 classes, distillation head).
        var weights = SharedData.Parity("tinyvim", "weights.pt");
        var ml = new MLContext(seed: 1);
        var train = ml.Transforms.ResizeImages("Image", 64, 64, "Image").Fit(FashionMnist.Load(ml, FashionMnistSplit.Train, 32))
            .Transform(FashionMnist.Load(ml, FashionMnistSplit.Train, 32));
        var o = Quick();
        o.Variant = "Tiny"; o.Distillation = true; o.PretrainedWeightsPath = weights; o.MaxEpochs = 1;
        o.LearningRate = 1e-12; o.MinLearningRate = 0; o.WeightDecay = 0; o.DeployForInference = false;
        using var model = ml.MulticlassClassification.Trainers.TinyViM(o).Fit(train);
        using var zip = System.IO.Compression.ZipFile.OpenRead(SharedData.Parity("tinyvim", "weights.npz"));
        foreach (var key in new[] { "head.weight", "dist_head.weight", "patch_embed.0.c.weight", "network.6.0.op.x_proj_weight", "network.6.0.op.local_conv.conv.c.weight" })
        {
            var entry = zip.GetEntry(key + ".npy");
            Assert.NotNull(entry);
            using var s = entry!.Open();
            using var ms = new MemoryStream();
            s.CopyTo(ms);
            var official = Npy.Parse(ms.ToArray()).ToTensor();
            var ours = model.Network.state_dict()[key];
            SharedData.AssertClose(official, ours.detach().cpu(), 1e-6, key);
        }
    }
}

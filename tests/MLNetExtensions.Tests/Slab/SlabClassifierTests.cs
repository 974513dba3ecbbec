using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Estimators.Slab;
using MLNetExtensions.Transforms.Slab;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Xunit;
using MLNetExtensions.Transforms.Datasets;

namespace MLNetExtensions.Tests.Slab;

/// <summary>
/// Trains one tiny PRepBN + SLA SLAB-DeiT twice with the same seed (served folded, and served unfolded) on the
/// embedded Fashion-MNIST subset; the tests share the two fits.
/// </summary>
public sealed class SlabTrainedPair : IDisposable
{
    public const int TrainRows = 1536, BatchSize = 64, Epochs = 4;
    public MLContext Ml { get; } = new(seed: 1);
    public IDataView Train { get; }
    public IDataView Test { get; }
    public TorchImageClassificationTransformer Folded { get; }
    public TorchImageClassificationTransformer Unfolded { get; }
    public SlabClassifier UnfoldedTrainer { get; }

    public SlabTrainedPair()
    {
        Train = FashionMnist.Load(Ml, FashionMnistSplit.Train, TrainRows);
        Test = FashionMnist.Load(Ml, FashionMnistSplit.Test, 500);
        Folded = Ml.MulticlassClassification.Trainers.Slab(Options(deploy: true)).Fit(Train);
        UnfoldedTrainer = Ml.MulticlassClassification.Trainers.Slab(Options(deploy: false));
        Unfolded = UnfoldedTrainer.Fit(Train);
    }

    public static SlabClassifier.Options Options(bool deploy) => new()
    {
        ImageColumnName = "Pixels", Variant = "nano", Norm = TokenNormKind.PRepBN, Attention = AttentionKind.Sla,
        MaxEpochs = Epochs, BatchSize = BatchSize, LearningRate = 4e-3, WarmupSteps = 10, Seed = 3, DeployForInference = deploy,
        Mean = new[] { 0.286f, 0.286f, 0.286f }, Std = new[] { 0.353f, 0.353f, 0.353f },
    };

    public void Dispose()
    {
        Folded.Dispose();
        Unfolded.Dispose();
    }
}

public class SlabClassifierTests : IClassFixture<SlabTrainedPair>
{
    private readonly SlabTrainedPair _p;
    public SlabClassifierTests(SlabTrainedPair pair) => _p = pair;

    private static float[][] Scores(IDataView scored) =>
        scored.GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray();

    private static bool IsNorm(nn.Module m) => m is PRepBN or RepBN or TokenBatchNorm or MLNetExtensions.Core.Torch.SafeBatchNorm1d or LayerNorm;

    [Fact]
    public void TrainsFarAboveChanceAndServesTheFoldedFormWithTheSameScores()
    {
        var metrics = _p.Ml.MulticlassClassification.Evaluate(_p.Folded.Transform(_p.Test));
        Assert.True(metrics.MicroAccuracy > 0.6, $"accuracy {metrics.MicroAccuracy:F3} (chance 0.1)");

        // The served network has no norm module left, and fewer modules than the unfolded one.
        var folded = _p.Folded.Network;
        var unfolded = _p.Unfolded.Network;
        Assert.True(((SlabDeit)folded).IsDeployed);
        Assert.False(((SlabDeit)unfolded).IsDeployed);
        Assert.DoesNotContain(folded.modules(), IsNorm);
        Assert.Contains(unfolded.modules(), m => m is PRepBN);
        Assert.True(folded.modules().Count() < unfolded.modules().Count());
        Assert.DoesNotContain(folded.state_dict().Keys, k => k.Contains("norm"));
        Assert.Contains("\"Deployed\":true", _p.Folded.Description.ConfigJson);

        // Same seed, same data: the unfolded twin in eval mode gives the folded model's scores.
        var a = Scores(_p.Folded.Transform(_p.Test));
        var b = Scores(_p.Unfolded.Transform(_p.Test));
        double maxDiff = a.Zip(b).Max(t => t.First.Zip(t.Second).Max(u => Math.Abs(u.First - u.Second)));
        Assert.True(maxDiff <= 1e-4, $"folded vs unfolded max |Δscore| = {maxDiff:E2}");
        Assert.True(a.Select(r => Array.IndexOf(r, r.Max())).SequenceEqual(b.Select(r => Array.IndexOf(r, r.Max()))));
    }

    [Fact]
    public void PRepBNScheduleReachesPureRepBNAfterTheDerivedDecay()
    {
        long steps = (SlabTrainedPair.TrainRows + SlabTrainedPair.BatchSize - 1) / SlabTrainedPair.BatchSize * SlabTrainedPair.Epochs;
        long expectedT = (long)Math.Round(0.6 * steps);
        Assert.Equal(expectedT, _p.UnfoldedTrainer.PRepBNDecaySteps);
        var norms = PRepBN.Enumerate(_p.Unfolded.Network).ToList();
        Assert.Equal(2 * 2 + 1, norms.Count); // two blocks × (norm1, norm2) + final norm
        Assert.All(norms, n =>
        {
            Assert.Equal(expectedT, n.TotalSteps);
            Assert.Equal(0, n.Iter);
            Assert.Equal(0f, n.Gamma);
        });
    }

    [Fact]
    public void ExplicitScheduleAdvancesOncePerOptimizerStepAfterWarmUp()
    {
        var ml = new MLContext(seed: 1);
        var data = FashionMnist.Load(ml, FashionMnistSplit.Train, 192); // 3 steps of 64
        var trainer = ml.MulticlassClassification.Trainers.Slab(new SlabClassifier.Options
        {
            ImageColumnName = "Pixels", Variant = "nano", MaxEpochs = 1, BatchSize = 64, Seed = 1,
            PRepBNSteps = 10, PRepBNWarmSteps = 1, DeployForInference = false,
        });
        using var model = trainer.Fit(data);
        Assert.Equal(10, trainer.PRepBNDecaySteps);
        Assert.All(PRepBN.Enumerate(model.Network), n =>
        {
            Assert.Equal(0, n.Warm);
            Assert.Equal(8, n.Iter); // 1 warm-up step, then 2 decay steps: γ for the next step = 8/10
            Assert.Equal(0.8f, n.Gamma);
        });
    }

    [Fact]
    public void SaveLoadRoundTripGivesIdenticalScores()
    {
        var zip = Path.Combine(Directory.CreateTempSubdirectory("mlx-slab").FullName, "slab.zip");
        _p.Ml.Model.Save(_p.Folded, _p.Train.Schema, zip);
        var loaded = new MLContext().RegisterMLNetExtensions().Model.Load(zip, out _);
        try
        {
            var sample = _p.Ml.Data.TakeRows(_p.Test, 100);
            var a = Scores(_p.Folded.Transform(sample));
            var b = Scores(loaded.Transform(sample));
            Assert.Equal(a.Length, b.Length);
            for (int i = 0; i < a.Length; i++) Assert.Equal(a[i], b[i]);
            var network = ((TorchImageClassificationTransformer)loaded).Network;
            Assert.True(((SlabDeit)network).IsDeployed);
        }
        finally { (loaded as IDisposable)?.Dispose(); }
    }

    [Fact]
    public void SwinWithNaiveBatchNormFoldsAndRoundTrips_LayerNormServesAsItIs()
    {
        var ml = new MLContext(seed: 1);
        var data = FashionMnist.Load(ml, FashionMnistSplit.Train, 128);
        var dir = Directory.CreateTempSubdirectory("mlx-slab-swin").FullName;
        foreach (var norm in new[] { TokenNormKind.BatchNorm, TokenNormKind.LayerNorm })
        {
            using var model = ml.MulticlassClassification.Trainers.Slab(new SlabClassifier.Options
            {
                ImageColumnName = "Pixels", Family = SlabFamily.Swin, Variant = "nano", Norm = norm,
                MaxEpochs = 1, BatchSize = 64, Seed = 2,
            }).Fit(data);
            var swin = (SlabSwinTransformer)model.Network;
            Assert.Equal("LS", swin.Config.AttnType);
            Assert.Equal(norm != TokenNormKind.LayerNorm, swin.IsDeployed);
            if (norm == TokenNormKind.LayerNorm) Assert.Contains(swin.modules(), m => m is LayerNorm);
            else Assert.DoesNotContain(swin.modules(), IsNorm);

            var zip = Path.Combine(dir, $"{norm}.zip");
            ml.Model.Save(model, data.Schema, zip);
            var loaded = new MLContext().RegisterMLNetExtensions().Model.Load(zip, out _);
            try
            {
                var sample = ml.Data.TakeRows(data, 32);
                var a = Scores(model.Transform(sample));
                var b = Scores(loaded.Transform(sample));
                for (int i = 0; i < a.Length; i++) Assert.Equal(a[i], b[i]);
            }
            finally { (loaded as IDisposable)?.Dispose(); }
        }
    }

    [Fact]
    public void BadImageSizesAndVariantsAreRejectedNamingTheColumn()
    {
        var ml = new MLContext(seed: 1);
        var data = FashionMnist.Load(ml, FashionMnistSplit.Train, 16);
        IDataView Resized(int w, int h) => ml.Transforms.ResizeImages("Image", w, h, "Image").Fit(data).Transform(data);
        SlabClassifier Trainer(SlabFamily family) => ml.MulticlassClassification.Trainers.Slab(new SlabClassifier.Options
        { ImageColumnName = "Image", Family = family, Variant = "nano", MaxEpochs = 1, Seed = 1 });

        // DeiT nano: patch 4.
        var e1 = Assert.Throws<ArgumentOutOfRangeException>(() => Trainer(SlabFamily.DeiT).Fit(Resized(30, 30)));
        Assert.Contains("'Image'", e1.Message);
        Assert.Contains("multiple of the patch size 4", e1.Message);
        // Not square.
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => Trainer(SlabFamily.DeiT).Fit(Resized(32, 28)));
        Assert.Contains("'Image'", e2.Message);
        Assert.Contains("square", e2.Message);
        // Swin nano: patch 2, one merging (multiple of 4); 32×32 gives an 8×8 softmax stage that windows of 7 do not divide.
        var e3 = Assert.Throws<ArgumentOutOfRangeException>(() => Trainer(SlabFamily.Swin).Fit(Resized(30, 30)));
        Assert.Contains("'Image'", e3.Message);
        Assert.Contains("multiple of 4", e3.Message);
        var e4 = Assert.Throws<ArgumentOutOfRangeException>(() => Trainer(SlabFamily.Swin).Fit(Resized(32, 32)));
        Assert.Contains("'Image'", e4.Message);
        Assert.Contains("window of 7", e4.Message);

        var e5 = Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.Slab(new SlabClassifier.Options { Variant = "huge" }));
        Assert.Equal("Variant", e5.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.Slab(new SlabClassifier.Options { PRepBNFraction = 1.5 }));
    }
}

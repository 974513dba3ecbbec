using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Transforms.Datasets.Video;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Estimators.SqueezeTime;
using MLNetExtensions.Tests.Infrastructure;
using MLNetExtensions.Transforms.SqueezeTime;
using TorchSharp;
using TorchSharp.PyBridge;
using Xunit;
using MLNetExtensions.Transforms.Datasets;

namespace MLNetExtensions.Tests.SqueezeTime;

/// <summary>The SqueezeTime trainer end to end on generated moving Fashion-MNIST clips.</summary>
public class SqueezeTimeVideoClassifierTests
{
    private static SqueezeTimeVideoClassifier.Options Quick() => new()
    {
        Config = SqueezeTimeConfig.Tiny(frames: 8) with { DropoutRatio = 0 },
        MaxEpochs = 8, BatchSize = 32, LearningRate = 3e-3, Seed = 7, LabelSmoothing = 0, WeightDecay = 0.01,
        BatchNormRecalibrationBatches = 4,
    };

    [Fact]
    public void LearnsMotionDirectionAndRoundTrips()
    {
        var ml = new MLContext(seed: 1);
        var train = new MovingFashionMnist(new MovingFashionMnistOptions(Count: 384, Seed: 1));
        var test = new MovingFashionMnist(new MovingFashionMnistOptions(Count: 128, Seed: 2, Split: MLNetExtensions.Transforms.Datasets.FashionMnistSplit.Test));
        using var model = ml.MulticlassClassification.Trainers.SqueezeTime(Quick()).Fit(train);
        var scored = model.Transform(test);
        var metrics = ml.MulticlassClassification.Evaluate(scored);
        Assert.True(metrics.MicroAccuracy > 0.6, $"accuracy {metrics.MicroAccuracy:F3} (chance 0.25; single frames carry no class information)");

        var zip = Path.Combine(Directory.CreateTempSubdirectory("squeezetime").FullName, "m.zip");
        ml.Model.Save(model, train.Schema, zip);
        var loaded = new MLContext().RegisterMLNetExtensions().Model.Load(zip, out _);
        var a = scored.GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray();
        var b = loaded.Transform(test).GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray();
        Assert.Equal(a, b);
        var names = loaded.Transform(test).Schema["PredictedLabel"];
        VBuffer<ReadOnlyMemory<char>> keys = default;
        names.GetKeyValues(ref keys);
        Assert.Equal(MovingFashionMnist.ClassNames, keys.DenseValues().Select(m => m.ToString()));
        ((IDisposable)loaded).Dispose();
    }

    private sealed class FlatClip
    {
        [VectorType(8 * 3 * 32 * 32)] public float[] Video { get; set; } = Array.Empty<float>();
        [KeyType(4)] public uint Label { get; set; }
    }

    private sealed class TenClassClip
    {
        [VectorType(8, 3, 32, 32)] public float[] Video { get; set; } = Array.Empty<float>();
        [KeyType(10)] public uint Label { get; set; }
    }

    private sealed class WrongClip
    {
        [VectorType(7 * 3 * 32 * 32)] public float[] Video { get; set; } = Array.Empty<float>();
        [KeyType(4)] public uint Label { get; set; }
    }

    [Fact]
    public void RejectsMissingKeyLabelsNamingTheColumnUnlessTheyMayBeSkipped()
    {
        // A 1-based slip in a C# row class: [KeyType(4)] with the value 4 reads as a missing key (0), not class 4.
        var ml = new MLContext(seed: 1);
        var gen = new MovingFashionMnist(new MovingFashionMnistOptions(Count: 8, Seed: 1));
        var rows = Enumerable.Range(0, 8).Select(i => new TenClassClip4 { Video = gen.GetClip(i).Clip, Label = (uint)(i % 4) + 1 }).ToArray();
        var data = ml.Data.LoadFromEnumerable(rows);
        Assert.Equal(2, data.GetColumn<uint>("Label").Count(k => k == 0)); // the two rows with value 4 are missing
        var o = Quick(); o.MaxEpochs = 1; o.BatchSize = 4; o.BatchNormRecalibrationBatches = 1;
        var e = Assert.ThrowsAny<InvalidOperationException>(() => ml.MulticlassClassification.Trainers.SqueezeTime(o).Fit(data));
        Assert.Contains("'Label'", e.Message);
        Assert.Contains("missing", e.Message);
        Assert.Contains("0-based", e.Message);

        o.SkipMissingLabels = true;
        var trainer = ml.MulticlassClassification.Trainers.SqueezeTime(o);
        using var model = trainer.Fit(data);
        Assert.Equal(8, model.Transform(data).GetColumn<uint>("PredictedLabel").Count());
    }

    private sealed class TenClassClip4
    {
        [VectorType(8, 3, 32, 32)] public float[] Video { get; set; } = Array.Empty<float>();
        [KeyType(4)] public uint Label { get; set; }
    }

    [Fact]
    public void RejectsClipsOfTheWrongSizeNamingTheColumn()
    {
        var ml = new MLContext(seed: 1);
        var wrong = ml.Data.LoadFromEnumerable(new[] { new WrongClip { Video = new float[7 * 3 * 32 * 32], Label = 1 } });
        var o = Quick(); o.ImageHeight = 32; o.ImageWidth = 32;
        var e = Assert.ThrowsAny<ArgumentException>(() => ml.MulticlassClassification.Trainers.SqueezeTime(o).Fit(wrong));
        Assert.Contains("'Video'", e.Message);
        Assert.Contains("8×3×32×32", e.Message);
        // A flat vector without declared H, W asks for them.
        var flat = ml.Data.LoadFromEnumerable(new[] { new FlatClip { Video = new float[8 * 3 * 32 * 32], Label = 1 } });
        e = Assert.ThrowsAny<ArgumentException>(() => ml.MulticlassClassification.Trainers.SqueezeTime(Quick()).Fit(flat));
        Assert.Contains("'Video'", e.Message);
        Assert.Contains("Height", e.Message);
    }

    [Fact]
    public void TrainedModelRejectsWrongClipSizeAtTransformNamingTheColumn()
    {
        var ml = new MLContext(seed: 1);
        var train = new MovingFashionMnist(new MovingFashionMnistOptions(Count: 32, Seed: 1));
        var o = Quick(); o.MaxEpochs = 1;
        using var model = ml.MulticlassClassification.Trainers.SqueezeTime(o).Fit(train);
        var wrong = ml.Data.LoadFromEnumerable(new[] { new WrongClip { Video = new float[7 * 3 * 32 * 32], Label = 1 } });
        var e = Assert.ThrowsAny<ArgumentException>(() => model.Transform(wrong).GetColumn<uint>("PredictedLabel").ToArray());
        Assert.Contains("'Video'", e.Message);
    }

    [ParityFact]
    public void StartsFromAnOfficialCheckpoint()
    {
        // The fixture's weights.pt is the official recognizer (layers [1,2,1,1], w 0.125, T 8, 10 classes); our data has
        // 4 classes, so the rows are relabelled onto a 10-class key and every tensor must come from the checkpoint.
        var weights = SharedData.Parity("squeezetime", "weights.pt");
        var ml = new MLContext(seed: 1);
        var gen = new MovingFashionMnist(new MovingFashionMnistOptions(Count: 16, Seed: 1));
        var train = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 16).Select(i =>
            { var (clip, label) = gen.GetClip(i); return new TenClassClip { Video = clip, Label = (uint)(label + 1 + (i % 2) * 4) }; }));
        var o = Quick();
        o.Config = SqueezeTimeConfig.ParityFixture; o.PretrainedWeightsPath = weights; o.MaxEpochs = 1;
        o.LearningRate = 1e-12; o.MinLearningRate = 0; o.WeightDecay = 0; o.BatchSize = 8;
        using var model = ml.MulticlassClassification.Trainers.SqueezeTime(o).Fit(train);
        var net = Assert.IsType<SqueezeTimeVideoNetwork>(model.Network);
        using var reference = new SqueezeTimeModel(SqueezeTimeConfig.ParityFixture);
        reference.load_py(weights, strict: true);
        var got = net.Model.state_dict();
        int compared = 0;
        foreach (var (key, expected) in reference.state_dict())
        {
            if (key.Contains("running_") || key.Contains("num_batches")) continue;
            Assert.True(torch.allclose(expected, got[key], rtol: 0, atol: 1e-6), $"{key} differs from the checkpoint");
            compared++;
        }
        Assert.True(compared > 100, $"compared {compared} tensors");
        Assert.Equal(10, got["cls_head.fc_cls.weight"].shape[0]);
    }
}

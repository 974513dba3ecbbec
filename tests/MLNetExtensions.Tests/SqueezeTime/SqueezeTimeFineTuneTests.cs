using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Transforms.Datasets.Video;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Estimators.SqueezeTime;
using MLNetExtensions.Tests.Infrastructure;
using MLNetExtensions.Transforms.SqueezeTime;
using TorchSharp;
using TorchSharp.PyBridge;
using Xunit;

namespace MLNetExtensions.Tests.SqueezeTime;

/// <summary>Fine-tuning the official 10-class fixture checkpoint on the 4-class moving Fashion-MNIST task.</summary>
public class SqueezeTimeFineTuneTests
{
    private static bool Same(torch.Tensor a, torch.Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    [ParityFact]
    public void LoadsTheBackboneAndSkipsTheTenClassHead()
    {
        var weights = SharedData.Parity("squeezetime", "weights.pt");
        using var reference = new SqueezeTimeModel(SqueezeTimeConfig.ParityFixture);
        reference.load_py(weights, strict: true);
        torch.manual_seed(3);
        using var model = new SqueezeTimeModel(SqueezeTimeConfig.ParityFixture with { NumClasses = 4 });
        var headBefore = model.state_dict()["cls_head.fc_cls.weight"].clone();

        var report = PretrainedWeights.Load(model, weights, PretrainedWeights.KeysStartingWith("cls_head."));

        var got = model.state_dict();
        Assert.Equal(new[] { "cls_head.fc_cls.bias", "cls_head.fc_cls.weight" }, report.SkippedHead.Select(s => s.Key).OrderBy(k => k));
        Assert.Equal(new long[] { 10, 256 }, report.SkippedHead.Single(s => s.Key.EndsWith("weight")).CheckpointShape);
        Assert.Equal(new long[] { 4, 256 }, got["cls_head.fc_cls.weight"].shape);
        Assert.True(Same(headBefore, got["cls_head.fc_cls.weight"]), "the skipped head must keep its initial values");
        Assert.Empty(report.Missing);
        Assert.Empty(report.Unexpected);
        int compared = 0;
        foreach (var (key, expected) in reference.state_dict())
        {
            if (key.StartsWith("cls_head.")) continue;
            Assert.True(Same(expected, got[key]), $"{key} differs from the checkpoint"); // running stats and counters included
            compared++;
        }
        Assert.Equal(report.Loaded.Count, compared);
        Assert.Equal(got.Count - 2, compared);
        Assert.Contains("cls_head.fc_cls.weight [10,256] → [4,256]", report.Summary);
    }

    [ParityFact]
    public void RefusesAMismatchedBackboneTensorNamingKeyAndShapes()
    {
        var weights = SharedData.Parity("squeezetime", "weights.pt");
        // 4 frames: the stem sees 3·4 = 12 squeezed channels, the checkpoint 3·8 = 24.
        using var model = new SqueezeTimeModel(SqueezeTimeConfig.ParityFixture with { Frames = 4 });
        var before = model.state_dict()["backbone.net.layer1.0.conv1.weight"].clone();
        var e = Assert.Throws<ArgumentException>(() => PretrainedWeights.Load(model, weights, PretrainedWeights.KeysStartingWith("cls_head.")));
        Assert.Contains("'backbone.net.conv1.weight'", e.Message);
        Assert.Contains("[8,24,5,5]", e.Message);
        Assert.Contains("[8,12,5,5]", e.Message);
        Assert.True(Same(before, model.state_dict()["backbone.net.layer1.0.conv1.weight"]), "a refused checkpoint must leave the model untouched");
    }

    [ParityFact]
    public void TrainerFineTunesTheOfficialCheckpointOnFourClasses()
    {
        var weights = SharedData.Parity("squeezetime", "weights.pt");
        var ml = new MLContext(seed: 1);
        var messages = new List<string>();
        ml.Log += (_, e) => { if (e.Source.Contains("Pretrained")) lock (messages) messages.Add(e.Message); };
        var train = new MovingFashionMnist(new MovingFashionMnistOptions(Count: 8, Seed: 1));
        var trainer = ml.MulticlassClassification.Trainers.SqueezeTime(new SqueezeTimeVideoClassifier.Options
        {
            Config = SqueezeTimeConfig.ParityFixture, PretrainedWeightsPath = weights,
            MaxEpochs = 1, BatchSize = 4, LearningRate = 1e-3, Seed = 7, BatchNormRecalibrationBatches = 1,
        });
        using var model = trainer.Fit(train);

        var report = Assert.IsType<PretrainedLoadReport>(trainer.LastPretrainedLoad);
        Assert.Equal(2, report.SkippedHead.Count);
        Assert.Contains(messages, m => m.Contains("classifier head not loaded"));
        var summary = trainer.LastTrainingSummary!;
        Assert.Equal(2, summary.Steps);
        Assert.True(double.IsFinite(summary.LastTrainLoss));
        var net = Assert.IsType<SqueezeTimeVideoNetwork>(model.Network);
        Assert.Equal(new long[] { 4, 256 }, net.Model.state_dict()["cls_head.fc_cls.weight"].shape);
        // Training started from the checkpoint and moved it a little (AdamW, 2 steps at 1e-3).
        using var reference = new SqueezeTimeModel(SqueezeTimeConfig.ParityFixture);
        reference.load_py(weights, strict: true);
        var w0 = reference.state_dict()["backbone.net.conv1.weight"];
        var w1 = net.Model.state_dict()["backbone.net.conv1.weight"];
        var moved = (w1 - w0).abs().max().item<float>();
        Assert.InRange(moved, 1e-6f, 5e-3f);
        var scores = model.Transform(train).GetColumn<Microsoft.ML.Data.VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray();
        Assert.All(scores, s => Assert.Equal(4, s.Length));
    }
}

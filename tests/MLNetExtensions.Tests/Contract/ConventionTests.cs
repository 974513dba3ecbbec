using Microsoft.ML;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Core.IO;
using MLNetExtensions.Estimators.Segmentation;
using MLNetExtensions.Estimators.SqueezeTime;
using MLNetExtensions.Evaluators.Segmentation;
using MLNetExtensions.Transforms.Datasets.Scenes;
using TorchSharp;
using Xunit;

namespace MLNetExtensions.Tests.Contract;

/// <summary>Conventions a user relies on across components: one default per option, defaults from ColumnNames, pretrained weights that train.</summary>
[Collection("Contract")]
public class ConventionTests
{
    [Fact]
    public void SimpleOverloadsUseTheOptionsDefaults()
    {
        var ml = new MLContext(seed: 1);
        var simple = ml.Segmentation().Trainers.Ssa();
        var full = new SsaSegmenter.Options();
        Assert.Equal(full.LearningRate, simple.TrainerOptions.LearningRate);
        Assert.Equal(ColumnNames.Mask, simple.TrainerOptions.LabelColumnName);
        var clip = ml.MulticlassClassification.Trainers.SqueezeTime();
        Assert.Equal(new SqueezeTimeVideoClassifier.Options().LearningRate, clip.TrainerOptions.LearningRate);
        Assert.Equal(ColumnNames.Video, clip.TrainerOptions.VideoColumnName);
        Assert.Equal(8, clip.TrainerOptions.Config.Frames);
    }

    [Fact]
    public void EveryPretrainedParameterTrains()
    {
        // load_py-style loads leave requires_grad off; the template must turn every parameter back on.
        torch.set_num_threads(1);
        var ml = new MLContext(seed: 1).RegisterMLNetExtensions();
        var scenes = ml.Data.Cache(FashionScenes.Load(ml, new FashionSceneOptions { Count = 8, Seed = 1, SourceRows = 100, Height = 32, Width = 32 }));
        SsaSegmenter Trainer(string? pretrained) => ml.Segmentation().Trainers.Ssa(new SsaSegmenter.Options
        {
            BackboneWidths = new[] { 8, 8, 8, 8 }, DecoderChannels = 8, MaxEpochs = 1, BatchSize = 4, Seed = 2, LearningRate = 1e-2,
            BatchNormRecalibrationBatches = 0, PretrainedWeightsPath = pretrained,
        });
        var path = Path.Combine(Path.GetTempPath(), $"pretrained-{Guid.NewGuid():N}.safetensors");
        try
        {
            using (var first = Trainer(null).Fit(scenes)) using (var fs = File.Create(path)) SafeTensors.Write(fs, first.Model.state_dict());
            Dictionary<string, float[]> before;
            using (var fs = File.OpenRead(path)) before = SafeTensors.Read(fs).Where(kv => kv.Value.is_floating_point()).ToDictionary(kv => kv.Key, kv => kv.Value.data<float>().ToArray());
            var trainer = Trainer(path);
            using var second = trainer.Fit(scenes);
            Assert.Equal(trainer.LastPretrainedLoad!.Loaded.Count, second.Model.state_dict().Count);
            var parameters = second.Model.named_parameters().ToList();
            Assert.All(parameters, p => Assert.True(p.parameter.requires_grad, $"'{p.name}' was left frozen"));
            // Parameters the training loss reaches moved away from the pretrained values.
            var moved = parameters.Count(p => !p.parameter.detach().data<float>().ToArray().SequenceEqual(before[p.name]));
            Assert.True(moved >= parameters.Count * 0.9, $"only {moved} of {parameters.Count} pretrained parameters changed in training");
        }
        finally { if (File.Exists(path)) File.Delete(path); }
    }
}

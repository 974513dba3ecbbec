using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Transforms.Excp;
using MLNetExtensions.Transforms.Datasets.Scenes;
using MLNetExtensions.Transforms.Datasets.Video;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Core.Models;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Estimators.Excp;
using MLNetExtensions.Estimators.Segmentation;
using MLNetExtensions.Estimators.SqueezeTime;
using MLNetExtensions.Evaluators.Segmentation;
using MLNetExtensions.Transforms.SqueezeTime;
using Xunit;

namespace MLNetExtensions.Tests.Excp;

/// <summary>Every trainer writes the ExCP model card, so a segmenter's and a video classifier's chain serve any step.</summary>
public class ExcpAnyTrainerTests
{
    private static void ServesEveryStepLikeTheTrainedNetwork(MLContext ml, Func<string, IEstimator<ITransformer>> trainer, IDataView train,
        IDataView test, string task, string[] outputs)
    {
        var root = Directory.CreateTempSubdirectory("mlx-excp-any").FullName;
        try
        {
            var estimator = trainer(root);
            using var trained = (TorchTransformerBase)estimator.Fit(train);
            var chain = Path.Combine(root, "excp");
            var card = ExcpCheckpointTransformer.ReadModelCard(chain);
            Assert.NotNull(card);
            Assert.Equal(task, card!.Description.Task);
            var steps = ExcpChain.Open(chain).Entries.Select(e => e.Step).ToArray();
            Assert.True(steps.Length >= 2, $"expected a checkpoint per epoch, got {steps.Length}");
            foreach (var step in new[] { steps[0], steps[^1] })
            {
                using var served = ml.Transforms.LoadExcpCheckpoint(chain, step).Fit(test);
                Assert.Equal(outputs, served.Description.Outputs.Select(o => o.Column));
                var actual = served.Transform(test).GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray();
                ExcpServing.LoadStep(trained, chain, step);
                var expected = trained.Transform(test).GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray();
                Assert.Equal(expected.Length, actual.Length);
                for (int r = 0; r < expected.Length; r++) Assert.Equal(expected[r], actual[r]);
            }
        }
        finally { Directory.Delete(root, true); }
    }

    private static T With<T>(T o, string checkpointDirectory) where T : TorchTrainerOptions
    {
        o.CheckpointDirectory = checkpointDirectory;
        o.CheckpointFormat = new ExcpOptions { Alpha = 5e-3 };
        o.Seed = 3; o.MaxEpochs = 2; o.LogEveryNSteps = 0; o.BatchNormRecalibrationBatches = 0;
        return o;
    }

    [Fact]
    public void ASegmentersChainServesAStep()
    {
        var ml = new MLContext(seed: 1).RegisterMLNetExtensions();
        var scenes = ml.Data.Cache(FashionScenes.Load(ml, new FashionSceneOptions { Count = 8, Seed = 1, SourceRows = 100, Height = 32, Width = 32 }));
        ServesEveryStepLikeTheTrainedNetwork(ml,
            p => ml.Segmentation().Trainers.Ssa(With(new SsaSegmenter.Options { BackboneWidths = new[] { 8, 8, 8, 8 }, DecoderChannels = 8, BatchSize = 4 }, p)),
            scenes, scenes, ModelTasks.Segmenter, new[] { "Score", "PredictedLabel" });
    }

    [Fact]
    public void AVideoClassifiersChainServesAStep()
    {
        var ml = new MLContext(seed: 1).RegisterMLNetExtensions();
        var clips = ml.Data.Cache(new MovingFashionMnist(new MovingFashionMnistOptions(Count: 8, Seed: 1)));
        ServesEveryStepLikeTheTrainedNetwork(ml,
            p => ml.MulticlassClassification.Trainers.SqueezeTime(With(new SqueezeTimeVideoClassifier.Options { Config = SqueezeTimeConfig.Tiny(frames: 8), BatchSize = 4 }, p)),
            clips, clips, ModelTasks.Classifier, new[] { "Score", "PredictedLabel" });
    }
}

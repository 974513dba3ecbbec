using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Data.Scenes;
using MLNetExtensions.Core.Data.Video;
using MLNetExtensions.Core.IO;
using MLNetExtensions.Estimators.Segmentation;
using MLNetExtensions.Evaluators.Segmentation;
using MLNetExtensions.Estimators.SqueezeTime;
using MLNetExtensions.Tests.Infrastructure;
using MLNetExtensions.Transforms.SqueezeTime;
using Xunit;

namespace MLNetExtensions.Tests.Contract;

/// <summary>Writes the persistence-v1 model zips once (run by hand with MLNETEXT_WRITE_LEGACY=1 on the code that writes v1).</summary>
public class LegacyFixtureGenerator
{
    private static string Dir => Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "Contract", "Legacy");

    [Fact]
    public void Write()
    {
        if (Environment.GetEnvironmentVariable("MLNETEXT_WRITE_LEGACY") != "1") return;
        var ml = new MLContext(seed: 1);
        ml.RegisterMLNetExtensions();
        // Image classifier (SimpleConvNet) on 16 Fashion-MNIST rows.
        var img = ml.Data.TakeRows(FashionMnist.Load(ml, FashionMnistSplit.Test, 16), 16);
        var cache = ml.Data.Cache(img);
        using (var m = new TestCnnTrainer(ml, new TestCnnTrainer.Options { ImageColumnName = "Pixels", MaxEpochs = 1, BatchSize = 8, Seed = 3, Width = 4 }).Fit(cache))
        {
            ml.Model.Save(m, cache.Schema, Path.Combine(Dir, "image-classifier-v1.zip"));
            Dump(cache, m.Transform(cache), "Pixels", "image-classifier-v1");
        }
        // SSA segmenter, small.
        var scenes = ml.Data.Cache(FashionScenes.Load(ml, new FashionSceneOptions { Count = 4, Seed = 1, SourceRows = 50, Height = 32, Width = 32 }));
        using (var m = ml.Segmentation().Trainers.Ssa(new SsaSegmenter.Options { MaxEpochs = 1, BatchSize = 4, Seed = 1, BackboneWidths = new[] { 8, 8, 8, 8 }, DecoderChannels = 8, BatchNormRecalibrationBatches = 0 }).Fit(scenes))
        {
            ml.Model.Save(m, scenes.Schema, Path.Combine(Dir, "ssa-segmenter-v1.zip"));
            Dump(scenes, m.Transform(scenes), "Image", "ssa-segmenter-v1");
        }
        // SqueezeTime Tiny video classifier.
        var clips = ml.Data.Cache(new MovingFashionMnist(new MovingFashionMnistOptions(Count: 4, Seed: 1)));
        using (var m = ml.MulticlassClassification.Trainers.SqueezeTime(new SqueezeTimeVideoClassifier.Options
            { Config = SqueezeTimeConfig.Tiny(frames: 8), MaxEpochs = 1, BatchSize = 4, Seed = 1, BatchNormRecalibrationBatches = 0 }).Fit(clips))
        {
            ml.Model.Save(m, clips.Schema, Path.Combine(Dir, "squeezetime-v1.zip"));
            Dump(clips, m.Transform(clips), "Video", "squeezetime-v1");
        }
    }

    private static void Dump(IDataView input, IDataView scored, string inputColumn, string name)
    {
        var inputs = input.GetColumn<VBuffer<float>>(inputColumn).SelectMany(v => v.DenseValues()).ToArray();
        var scores = scored.GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray();
        Npy.Write(Path.Combine(Dir, name + "-input.npy"), inputs, scores.Length, inputs.Length / scores.Length);
        Npy.Write(Path.Combine(Dir, name + "-score.npy"), scores.SelectMany(s => s).ToArray(), scores.Length, scores[0].Length);
    }
}

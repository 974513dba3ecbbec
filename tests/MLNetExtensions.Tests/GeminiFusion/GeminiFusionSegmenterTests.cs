using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.IO;
using MLNetExtensions.Estimators.GeminiFusion;
using MLNetExtensions.Evaluators.Segmentation;
using MLNetExtensions.Transforms.Datasets.Scenes;
using MLNetExtensions.Transforms.GeminiFusion;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.GeminiFusion;

/// <summary>The estimator: outputs, branch columns, official training rules, missing modality, pretrained loading, input errors.</summary>
public class GeminiFusionSegmenterTests
{
    private static MLContext Ml() { torch.set_num_threads(1); return new MLContext(seed: 3).RegisterMLNetExtensions(); }

    private static IDataView Scenes(MLContext ml, int count, int seed) =>
        ml.Data.Cache(FashionScenes.Load(ml, new FashionSceneOptions { Count = count, Seed = seed, SourceRows = 100, Height = 32, Width = 32 }));

    private static GeminiFusionSegmenter.Options Tiny(Action<GeminiFusionSegmenter.Options>? edit = null)
    {
        var o = new GeminiFusionSegmenter.Options { Backbone = GeminiFusionTestData.Micro, EmbeddingDim = 8, MaxEpochs = 1, BatchSize = 4, LearningRate = 1e-3, Seed = 11, LogEveryNSteps = 0 };
        edit?.Invoke(o);
        return o;
    }

    private static float[][] Column(IDataView v, string col) => v.GetColumn<VBuffer<float>>(col).Select(b => b.DenseValues().ToArray()).ToArray();

    [Fact]
    public void BranchOutputsAreTheOfficialThreeAndTheEnsembleIsTheirFixedAverage()
    {
        var ml = Ml();
        var train = Scenes(ml, 12, 1);
        var trainer = ml.Segmentation().Trainers.GeminiFusion(Tiny(o => o.BranchOutputs = true));
        using var model = trainer.Fit(train);
        var test = Scenes(ml, 3, 2);
        var scored = model.Transform(test);
        foreach (var c in new[] { "Score", "PredictedLabel", "Score.Image", "PredictedLabel.Image", "Score.Depth", "PredictedLabel.Depth" })
            Assert.NotNull(scored.Schema.GetColumnOrNull(c));
        // Official loss terms: one per output.
        Assert.Equal(new[] { "loss_branch0", "loss_branch1", "loss_ensemble" }, trainer.LossTermHistory[0].Keys.OrderBy(k => k));
        // alpha is in no optimiser group (official main): still (1, 1), so ensemble logits = mean of branch logits, and
        // the (linear) bicubic resize keeps that: softmax(½(log p0 + log p1)) = p_ens.
        Assert.Equal(new[] { 1f, 1f }, model.Network.Alpha.data<float>().ToArray());
        var ens = Column(scored, "Score"); var p0 = Column(scored, "Score.Image"); var p1 = Column(scored, "Score.Depth");
        int k = FashionScenes.NumClasses, plane = 32 * 32;
        double maxDiff = 0;
        for (int r = 0; r < ens.Length; r++)
            for (int j = 0; j < plane; j++)
            {
                var z = Enumerable.Range(0, k).Select(c => 0.5 * (Math.Log(p0[r][c * plane + j]) + Math.Log(p1[r][c * plane + j]))).ToArray();
                double mx = z.Max(), s = z.Sum(v => Math.Exp(v - mx));
                for (int c = 0; c < k; c++) maxDiff = Math.Max(maxDiff, Math.Abs(Math.Exp(z[c] - mx) / s - ens[r][c * plane + j]));
            }
        Assert.True(maxDiff < 1e-4, $"ensemble differs from the average of the branches by {maxDiff:E2}");
        Assert.False(p0[0].SequenceEqual(p1[0]), "the two branches give identical scores");
        // mIoU on every head through the suite's evaluator.
        foreach (var c in new[] { "PredictedLabel", "PredictedLabel.Image", "PredictedLabel.Depth" })
        {
            var m = ml.Segmentation().Evaluate(scored, "Mask", c);
            Assert.InRange(m.MeanIoU, 0, 1);
        }
    }

    [Fact]
    public void EnsembleWeightsTrainOnlyWhenAsked()
    {
        var ml = Ml();
        var train = Scenes(ml, 8, 1);
        using var model = ml.Segmentation().Trainers.GeminiFusion(Tiny(o => { o.TrainEnsembleWeights = true; o.LearningRate = 1e-2; })).Fit(train);
        var a = model.Network.Alpha.data<float>().ToArray();
        Assert.True(Math.Abs(a[0] - a[1]) > 1e-6 || Math.Abs(a[0] - 1) > 1e-6, $"alpha did not train: {a[0]}, {a[1]}");
    }

    [Fact]
    public void DepthAsImageOrAsMapFeedsTheSameNetwork()
    {
        var ml = Ml();
        var train = Scenes(ml, 8, 1);
        var test = Scenes(ml, 2, 2);
        using var asMap = ml.Segmentation().Trainers.GeminiFusion(Tiny()).Fit(train);
        using var asImage = ml.Segmentation().Trainers.GeminiFusion(Tiny(o => o.Modalities = new[]
            { new GeminiFusionModality("Image", ModalityInputKind.RgbImage), new GeminiFusionModality("Depth", ModalityInputKind.Image) })).Fit(train);
        var a = Column(asMap.Transform(test), "Score"); var b = Column(asImage.Transform(test), "Score");
        Assert.Equal(a.Length, b.Length);
        for (int r = 0; r < a.Length; r++) Assert.True(a[r].Zip(b[r]).Max(p => Math.Abs(p.First - p.Second)) < 1e-5, "a 1-channel image and a map of the same values must give the same model");
    }

    [Fact]
    public void MissingDepthIsAnErrorNamingTheOptionOrZerosWhenAskedAndThePolicyIsSaved()
    {
        var ml = Ml();
        var train = Scenes(ml, 8, 1);
        var test = Scenes(ml, 2, 2);
        using var model = ml.Segmentation().Trainers.GeminiFusion(Tiny()).Fit(train);
        var noDepth = ml.Transforms.DropColumns("Depth").Fit(test).Transform(test);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => model.Transform(noDepth));
        Assert.Contains("'Depth'", e.Message);
        Assert.Contains("MissingModality", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Model.CreatePredictionEngine<SceneRgb, SceneOut>(model));

        model.MissingModality = MissingModalityPolicy.Zeros;
        // Reference: the same rows with an explicit all-zero depth column.
        var explicitZero = ml.Data.LoadFromEnumerable(test.GetColumn<VBuffer<float>>("Image").Zip(test.GetColumn<VBuffer<uint>>("Mask"))
            .Select(p => new SceneFull { Image = p.First.DenseValues().ToArray(), Mask = p.Second.DenseValues().ToArray(), Depth = new float[32 * 32] }),
            SceneFull.Schema());
        var expected = Column(model.Transform(explicitZero), "Score");
        var got = Column(model.Transform(noDepth), "Score");
        for (int r = 0; r < expected.Length; r++) Assert.True(expected[r].Zip(got[r]).Max(p => Math.Abs(p.First - p.Second)) < 1e-6);
        // PredictionEngine without the depth property.
        var engine = ml.Model.CreatePredictionEngine<SceneRgb, SceneOut>(model);
        var one = engine.Predict(new SceneRgb { Image = test.GetColumn<VBuffer<float>>("Image").First().DenseValues().ToArray() });
        Assert.True(one.Score.Zip(expected[0]).Max(p => Math.Abs(p.First - p.Second)) < 1e-5);

        var path = Path.Combine(Path.GetTempPath(), $"gemini-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(model, test.Schema, path);
            using var loaded = (GeminiFusionTransformer)ml.Model.Load(path, out _);
            Assert.Equal(MissingModalityPolicy.Zeros, loaded.MissingModality);
            var again = Column(loaded.Transform(noDepth), "Score");
            for (int r = 0; r < expected.Length; r++) Assert.True(again[r].Zip(got[r]).Max(p => Math.Abs(p.First - p.Second)) < 1e-6);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void PretrainedWeightsLoadStrictlyByOfficialNamesWithADdpPrefix()
    {
        var ml = Ml();
        var train = Scenes(ml, 4, 1);
        using var source = ml.Segmentation().Trainers.GeminiFusion(Tiny()).Fit(train);
        var dir = Directory.CreateTempSubdirectory("gemini-pre");
        try
        {
            var sd = source.Network.state_dict();
            // An official main-branch checkpoint saved from DDP: every key under "module.".
            var path = Path.Combine(dir.FullName, "ckpt.safetensors");
            using (var fs = File.Create(path)) SafeTensors.Write(fs, sd.ToDictionary(kv => "module." + kv.Key, kv => kv.Value));
            var trainer = ml.Segmentation().Trainers.GeminiFusion(Tiny(o => { o.PretrainedWeightsPath = path; o.LearningRate = 1e-9; o.MinLearningRate = 0; o.Seed = 99; }));
            using var tuned = trainer.Fit(train);
            Assert.Equal(sd.Count, trainer.LastPretrainedLoad!.Loaded.Count);
            var k = "encoder.block1.0.attn.cross_attn_0_to_1.in_proj_weight";
            var diff = (tuned.Network.state_dict()[k] - sd[k]).abs().max().item<float>();
            Assert.True(diff < 1e-5, $"{k} differs by {diff} after loading and a 1e-9 step");

            // A key this network lacks (e.g. a four-stage checkpoint) is refused, naming it.
            var extra = Path.Combine(dir.FullName, "extra.safetensors");
            var withExtra = sd.ToDictionary(kv => kv.Key, kv => kv.Value);
            withExtra["encoder.block4.0.attn.k_noise.weight"] = torch.zeros(2, 16);
            using (var fs = File.Create(extra)) SafeTensors.Write(fs, withExtra);
            var e = Assert.Throws<ArgumentException>(() => ml.Segmentation().Trainers.GeminiFusion(Tiny(o => o.PretrainedWeightsPath = extra)).Fit(train));
            Assert.Contains("encoder.block4.0.attn.k_noise.weight", e.Message);
            // A tensor of another shape is refused, naming it.
            var bad = Path.Combine(dir.FullName, "bad.safetensors");
            var reshaped = sd.ToDictionary(kv => kv.Key, kv => kv.Value);
            reshaped["encoder.block1.0.attn.k_noise.weight"] = torch.zeros(2, 4);
            using (var fs = File.Create(bad)) SafeTensors.Write(fs, reshaped);
            var e2 = Assert.Throws<ArgumentException>(() => ml.Segmentation().Trainers.GeminiFusion(Tiny(o => o.PretrainedWeightsPath = bad)).Fit(train));
            Assert.Contains("k_noise", e2.Message);
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void BadInputsAreNamedBeforeTraining()
    {
        var ml = Ml();
        Assert.Throws<ArgumentException>(() => ml.Segmentation().Trainers.GeminiFusion(Tiny(o => o.Modalities = new[] { new GeminiFusionModality("Image", ModalityInputKind.RgbImage) })));
        Assert.Throws<ArgumentException>(() => ml.Segmentation().Trainers.GeminiFusion(Tiny(o => o.Modalities = new[] { new GeminiFusionModality("Image", ModalityInputKind.RgbImage), new GeminiFusionModality("Image", ModalityInputKind.Map) })));
        // 36×36 is not a multiple of the micro backbone's stride 8.
        var odd = FashionScenes.Load(ml, new FashionSceneOptions { Count = 2, Seed = 1, SourceRows = 50, Height = 36, Width = 36 });
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Segmentation().Trainers.GeminiFusion(Tiny()).Fit(odd));
        Assert.Contains("multiples of 8", e.Message);
        // A depth map of another size than the RGB image.
        var scenes = FashionScenes.Load(ml, new FashionSceneOptions { Count = 2, Seed = 1, SourceRows = 50, Height = 32, Width = 32 });
        // (the RGB image twice, concatenated: 6×32×32 values, neither a map nor a 3-channel image).
        var wrongDepth = ml.Transforms.DropColumns("Depth").Fit(scenes).Transform(scenes);
        var doubled = ml.Transforms.Concatenate("Depth", "Image", "Image").Fit(wrongDepth).Transform(wrongDepth);
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Segmentation().Trainers.GeminiFusion(Tiny()).Fit(doubled));
        Assert.Contains("'Depth'", e2.Message);
    }

    private sealed class SceneRgb { [VectorType(3, 32, 32)] public float[] Image { get; set; } = Array.Empty<float>(); }
    private sealed class SceneOut { public float[] Score { get; set; } = Array.Empty<float>(); }
    private sealed class SceneFull
    {
        public float[] Image { get; set; } = Array.Empty<float>();
        public uint[] Mask { get; set; } = Array.Empty<uint>();
        public float[] Depth { get; set; } = Array.Empty<float>();
        public static SchemaDefinition Schema()
        {
            var d = SchemaDefinition.Create(typeof(SceneFull));
            d["Image"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 3, 32, 32);
            d["Mask"].ColumnType = new VectorDataViewType(new KeyDataViewType(typeof(uint), FashionScenes.NumClasses), 32 * 32);
            d["Depth"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 1, 32, 32);
            return d;
        }
    }
}

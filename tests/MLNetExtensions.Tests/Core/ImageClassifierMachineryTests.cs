global using TrainingProgressAlias = MLNetExtensions.Core.Training.TrainingProgress;
using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using MLNetExtensions.Transforms.Datasets;

namespace MLNetExtensions.Tests.Core;

/// <summary>The shared trainer/transformer machinery, end to end on real Fashion-MNIST images (embedded subset or full).</summary>
public class ImageClassifierMachineryTests
{
    private static TestCnnTrainer.Options Quick(int epochs = 2, int seed = 7) => new()
    {
        ImageColumnName = "Pixels", MaxEpochs = epochs, BatchSize = 32, LearningRate = 5e-3, Seed = seed,
        Mean = new[] { 0.5f, 0.5f, 0.5f }, Std = new[] { 0.5f, 0.5f, 0.5f }, LabelSmoothing = 0,
    };

    private static (MLContext ml, IDataView train, IDataView test) Data(int train = 800, int test = 200)
    {
        var ml = new MLContext(seed: 1);
        return (ml, FashionMnist.Load(ml, FashionMnistSplit.Train, train), FashionMnist.Load(ml, FashionMnistSplit.Test, test));
    }

    private static float[][] Scores(IDataView scored) =>
        scored.GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray();

    private sealed class KeyRow
    {
        [VectorType(1, 28, 28)] public float[] Pixels { get; set; } = new float[784];
        [KeyType(10)] public uint Label { get; set; } // 0-based in a row class; 10 reads as a missing key
    }

    [Fact]
    public void MissingKeyLabelsThrowNamingTheColumnUnlessSkippingIsAsked()
    {
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 64).Select(i => new KeyRow { Label = (uint)(i % 10) }).ToArray();
        rows[37].Label = 10; // the classic 1-based slip: class "10" becomes a missing key
        var data = ml.Data.LoadFromEnumerable(rows);
        var ex = Assert.Throws<InvalidOperationException>(() => new TestCnnTrainer(ml, Quick(1)).Fit(data));
        Assert.Contains("'Label'", ex.Message);
        Assert.Contains("SkipMissingLabels", ex.Message);
        var skip = Quick(1);
        skip.SkipMissingLabels = true;
        using var model = new TestCnnTrainer(ml, skip).Fit(data);
        Assert.Equal(64, model.Transform(data).GetColumn<uint>("PredictedLabel").Count());
    }

    [Fact]
    public void TrainsEvaluatesAndReachesAccuracyFarAboveChance()
    {
        var (ml, train, test) = Data();
        using var model = new TestCnnTrainer(ml, Quick(3)).Fit(train);
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
        Assert.True(metrics.MacroAccuracy > 0.35, $"macro accuracy {metrics.MacroAccuracy:F3} (chance 0.1)");
        // PredictedLabel carries the label's class names, so MapKeyToValue works on the output.
        var names = ml.Transforms.Conversion.MapKeyToValue("PredictedName", "PredictedLabel").Fit(model.Transform(test))
            .Transform(model.Transform(test)).GetColumn<ReadOnlyMemory<char>>("PredictedName").Take(5).Select(m => m.ToString()).ToArray();
        Assert.All(names, n => Assert.Contains(n, FashionMnist.ClassNames));
    }

    [Fact]
    public void SameSeedGivesIdenticalWeightsAndDifferentSeedDoesNot()
    {
        var (ml, train, _) = Data(256, 10);
        using var a = new TestCnnTrainer(ml, Quick(1, seed: 3)).Fit(train);
        using var b = new TestCnnTrainer(ml, Quick(1, seed: 3)).Fit(train);
        using var c = new TestCnnTrainer(ml, Quick(1, seed: 4)).Fit(train);
        var sa = a.Network.state_dict(); var sb = b.Network.state_dict(); var sc = c.Network.state_dict();
        Assert.All(sa.Keys, k => Assert.True(sa[k].to(torch.float64).allclose(sb[k].to(torch.float64), 0, 0), k));
        Assert.Contains(sa.Keys, k => !sa[k].to(torch.float64).allclose(sc[k].to(torch.float64), 0, 0));
    }

    [Fact]
    public void SaveLoadRoundTripInProcessAndInFreshProcessIsBitIdentical()
    {
        var (ml, train, test) = Data(300, 40);
        // A pipeline mixing an ML.NET built-in with our trainer.
        var pipeline = ml.Transforms.CopyColumns("Pixels", "Pixels").Append(new TestCnnTrainer(ml, Quick(1)));
        var model = pipeline.Fit(train);
        var expected = Scores(model.Transform(test));
        var dir = Directory.CreateTempSubdirectory("mlx-save");
        var zip = Path.Combine(dir.FullName, "model.zip");
        ml.Model.Save(model, train.Schema, zip);

        var ml2 = new MLContext(seed: 5).RegisterMLNetExtensions();
        var loaded = ml2.Model.Load(zip, out var schema);
        Assert.NotNull(schema.GetColumnOrNull("Pixels"));
        Assert.Equal(expected, Scores(loaded.Transform(test)));

        var probe = LoadProbe.Path();
        var outFile = Path.Combine(dir.FullName, "scores.bin");
        var psi = new ProcessStartInfo("dotnet", $"\"{probe}\" \"{zip}\" 40 Score \"{outFile}\"") { RedirectStandardError = true, RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(120_000), "probe timed out");
        Assert.True(p.ExitCode == 0, $"probe failed: {err}");
        var bytes = File.ReadAllBytes(outFile);
        var flat = expected.SelectMany(r => r).ToArray();
        Assert.Equal(flat.Length * 4, bytes.Length);
        for (int i = 0; i < flat.Length; i++) Assert.Equal(BitConverter.SingleToInt32Bits(flat[i]), BitConverter.ToInt32(bytes, 4 * i));
        (loaded as IDisposable)?.Dispose();
    }

    private sealed class PixelsRow
    {
        [VectorType(1, 28, 28)] public float[] Pixels { get; set; } = Array.Empty<float>();
    }

    private sealed class Prediction
    {
        public float[] Score { get; set; } = Array.Empty<float>();
        public uint PredictedLabel { get; set; }
    }

    [Fact]
    public void PredictionEngineMatchesBatchedTransformAndIsSafeAcrossFourThreads()
    {
        var (ml, train, test) = Data(300, 32);
        using var model = new TestCnnTrainer(ml, Quick(1)).Fit(train);
        var rows = test.GetColumn<VBuffer<float>>("Pixels").Select(v => new PixelsRow { Pixels = v.DenseValues().ToArray() }).ToArray();
        var batched = Scores(model.Transform(test));
        using (var engine = ml.Model.CreatePredictionEngine<PixelsRow, Prediction>(model, new PredictionEngineOptions { OwnsTransformer = false }))
        {
            var p = engine.Predict(rows[0]);
            Assert.Equal(10, p.Score.Length);
            for (int j = 0; j < 10; j++) Assert.True(Math.Abs(batched[0][j] - p.Score[j]) < 1e-5, $"class {j}: {batched[0][j]} vs {p.Score[j]}");
            Assert.Equal((uint)Array.IndexOf(p.Score, p.Score.Max()) + 1, p.PredictedLabel);
        }
        // Four threads, each with its own engine over the same transformer.
        var results = new float[4][][];
        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, t =>
        {
            using var e = ml.Model.CreatePredictionEngine<PixelsRow, Prediction>(model, new PredictionEngineOptions { OwnsTransformer = false });
            results[t] = rows.Select(r => e.Predict(r).Score.ToArray()).ToArray();
        });
        for (int t = 0; t < 4; t++)
            for (int i = 0; i < rows.Length; i++)
                for (int j = 0; j < 10; j++) Assert.True(Math.Abs(batched[i][j] - results[t][i][j]) < 1e-5, $"thread {t} row {i} class {j}");
    }

    [Fact]
    public void CancellationStopsTrainingWithOperationCanceled()
    {
        var (ml, train, _) = Data(800, 10);
        using var cts = new CancellationTokenSource();
        var o = Quick(5);
        o.LogEveryNSteps = 1;
        o.CancellationToken = cts.Token;
        int reports = 0;
        o.Progress = new SyncProgress(p => { if (++reports == 3) cts.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() => new TestCnnTrainer(ml, o).Fit(train));
        Assert.Equal(3, reports);
    }

    [Fact]
    public void EarlyStoppingStopsAndProgressReportsEachEpoch()
    {
        var (ml, train, test) = Data(200, 100);
        var o = Quick(20);
        o.LearningRate = 1e-9; o.MinLearningRate = 0; // nothing improves → patience runs out
        o.ValidationSet = test; o.EarlyStoppingPatience = 2; o.LogEveryNSteps = 0;
        var epochs = new List<TrainingProgressSnapshot>();
        o.Progress = new SyncProgress(p => { if (p.EpochCompleted) epochs.Add(new(p.Epoch, p.ValidationMetric)); });
        var trainer = new TestCnnTrainer(ml, o);
        using var model = trainer.Fit(train);
        Assert.True(trainer.LastTrainingSummary!.StoppedEarly);
        Assert.True(epochs.Count < 20 && epochs.Count >= 3, $"{epochs.Count} epochs");
        Assert.All(epochs, e => Assert.NotNull(e.Metric));
        Assert.Equal(Enumerable.Range(1, epochs.Count), epochs.Select(e => e.Epoch));
    }

    private sealed record TrainingProgressSnapshot(int Epoch, double? Metric);

    [Fact]
    public void InterruptedTrainingResumesFromCheckpointToTheSameWeights()
    {
        var (ml, train, _) = Data(256, 10);
        var dir = Directory.CreateTempSubdirectory("mlx-ckpt").FullName;
        // Uninterrupted: 2 epochs.
        using var full = new TestCnnTrainer(ml, Quick(2)).Fit(train);
        // Interrupted after epoch 1 (cancel at the first step of epoch 2), then resumed.
        using var cts = new CancellationTokenSource();
        var o = Quick(2); o.CheckpointDirectory = dir; o.LogEveryNSteps = 1; o.CancellationToken = cts.Token;
        o.Progress = new SyncProgress(p => { if (p.Epoch == 2) cts.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() => new TestCnnTrainer(ml, o).Fit(train));
        Assert.True(File.Exists(Path.Combine(dir, "latest", "model.safetensors")));
        var o2 = Quick(2); o2.CheckpointDirectory = dir;
        var resumedTrainer = new TestCnnTrainer(ml, o2);
        using var resumed = resumedTrainer.Fit(train);
        Assert.True(resumedTrainer.LastTrainingSummary!.Resumed);
        var a = full.Network.state_dict(); var b = resumed.Network.state_dict();
        foreach (var k in a.Keys) Assert.True(a[k].to(torch.float64).allclose(b[k].to(torch.float64), 1e-5, 1e-6), k);
    }

    [Fact]
    public void CorruptCheckpointIsReportedNotSilentlyUsed()
    {
        var (ml, train, _) = Data(64, 10);
        var dir = Directory.CreateTempSubdirectory("mlx-ckpt").FullName;
        var o = Quick(1); o.CheckpointDirectory = dir;
        using (new TestCnnTrainer(ml, o).Fit(train)) { }
        var f = Path.Combine(dir, "latest", "model.safetensors");
        var bytes = File.ReadAllBytes(f); bytes[^1] ^= 0xFF; File.WriteAllBytes(f, bytes);
        var o2 = Quick(2); o2.CheckpointDirectory = dir;
        var e = Assert.Throws<InvalidDataException>(() => new TestCnnTrainer(ml, o2).Fit(train));
        Assert.Contains("model.safetensors", e.Message);
    }

    private sealed class SyncProgress : IProgress<TrainingProgressAlias>
    {
        private readonly Action<TrainingProgressAlias> _a;
        public SyncProgress(Action<TrainingProgressAlias> a) => _a = a;
        public void Report(TrainingProgressAlias value) => _a(value);
    }
}

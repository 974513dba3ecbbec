using System.Diagnostics;
using Microsoft.ML;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Tuning;
using MLNetExtensions.Tests.Infrastructure;
using Xunit;
using MLNetExtensions.Transforms.Datasets;

namespace MLNetExtensions.Tests.Tuning;

/// <summary>A real sweep: the small CNN trainer on a few hundred Fashion-MNIST rows, two learning rates, through mlContext.Sweeps().</summary>
public class TuningEndToEndTests
{
    [Fact]
    public void SweepsTheLearningRateOfARealTrainerAndResumes()
    {
        var ml = new MLContext(seed: 1);
        var train = FashionMnist.Load(ml, FashionMnistSplit.Train, 480);
        var test = FashionMnist.Load(ml, FashionMnistSplit.Test, 200);
        var dir = Directory.CreateTempSubdirectory("mlx-sweep-real");
        try
        {
            var csv = Path.Combine(dir.FullName, "lr.csv");
            var sweeps = ml.Sweeps();
            // 1e-5 (the lowest rate the default MinLearningRate allows) barely moves the weights in 60 steps; 5e-3 learns: the sweep must pick the latter.
            var space = sweeps.SearchSpace<TestCnnTrainer.Options>().Values(o => o.LearningRate, new[] { 1e-5, 5e-3 }, logBase: true);
            int calls = 0;
            double Evaluate(TestCnnTrainer.Options o, TrialContext t, CancellationToken ct)
            {
                calls++;
                using var model = new TestCnnTrainer(ml, o).Fit(train);
                return ml.MulticlassClassification.Evaluate(model.Transform(test)).MacroAccuracy;
            }
            TestCnnTrainer.Options Base() => new()
            {
                ImageColumnName = "Pixels", MaxEpochs = 2, BatchSize = 16, Seed = 3, LabelSmoothing = 0, BatchNormRecalibrationBatches = 4,
                Mean = new[] { 0.5f, 0.5f, 0.5f }, Std = new[] { 0.5f, 0.5f, 0.5f },
            };
            var watch = Stopwatch.StartNew();
            var sweep = sweeps.Create(Base, space, sweeps.GridSearch(), Evaluate);
            sweep.MetricName = "macro_accuracy";
            sweep.ResultsPath = csv;
            var result = sweep.Run();
            var seconds = watch.Elapsed.TotalSeconds;

            Assert.Equal(2, calls);
            Assert.True(result.Best!.Parameters.Get<double>("LearningRate") == 5e-3, result.ToMarkdownTable());
            var low = result.Settings.Single(s => s.Parameters.Get<double>("LearningRate") == 1e-5).Mean;
            Assert.True(result.Best.Mean > low + 0.2, $"lr 5e-3: {result.Best.Mean:F3}, lr 1e-5: {low:F3}");
            Assert.True(result.Best.Mean > 0.25, $"macro accuracy {result.Best.Mean:F3} after 60 steps (chance 0.1)");
            Assert.Contains("| 1 (best) | 0.005 |", result.ToMarkdownTable());
            result.SavePlot(Path.Combine(dir.FullName, "lr.png"), "LearningRate");
            Assert.True(File.Exists(Path.Combine(dir.FullName, "lr.png")));

            // Resume: nothing left to train, same result read back from the CSV.
            var again = sweeps.Create(Base, space, sweeps.GridSearch(), Evaluate);
            again.MetricName = "macro_accuracy";
            again.ResultsPath = csv;
            var resumed = again.Run();
            Assert.Equal(2, calls);
            Assert.Equal(result.Settings.Select(s => s.Mean), resumed.Settings.Select(s => s.Mean));
            Console.WriteLine($"real sweep: 2 trials in {seconds:F1} s; {result.ToMarkdownTable()}");
        }
        finally { dir.Delete(recursive: true); }
    }
}

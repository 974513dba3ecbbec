// Trains TinyViM on Fashion-MNIST (resized to 64×64 in the pipeline), prints test accuracy, saves the model zip,
// loads it back as a service would, predicts a few images, and writes a PNG of the training curves.
// Usage: dotnet run --project examples/TinyViM.FashionMnist -c Release [-- --help | --epochs N --train-rows N --variant Tiny --threads N --out DIR]
// One epoch of the full data reaches ≈89% (measured: 89.24%); --epochs 3 follows the method note's reference run.
using System.CommandLine;
using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions;
using MLNetExtensions.CommandLine;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Plotting;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Estimators.TinyViM;
using MLNetExtensions.Transforms.Datasets;
using static MLNetExtensions.CommandLine.CommandLineApp;

var epochs = Defaulted("--epochs", "Passes over the training data.", 1);
var trainRows = new Option<int?>("--train-rows") { Description = "Use only the first N training images (default: all)." };
var testRows = new Option<int?>("--test-rows") { Description = "Use only the first N test images (default: all)." };
var variant = Defaulted("--variant", "TinyViM variant: Tiny, Micro, S, B or L.", "Tiny");
var outDir = Defaulted("--out", "Output folder for the model zip and the PNG.", "out");
var minAccuracy = Defaulted("--min-accuracy", "Exit with 2 when the test accuracy is below this.", 0.0);
var threads = new Option<int?>("--threads") { Description = "LibTorch intra-op threads (default: one per core)." };
var noDeploy = Defaulted("--no-deploy", "Serve the training form instead of the folded deploy form.", false);
var root = new RootCommand("Train TinyViM on Fashion-MNIST, evaluate, save, reload and predict. " + ExitCodesHelp)
    { epochs, trainRows, testRows, variant, outDir, minAccuracy, threads, noDeploy };
root.SetAction(r => Train(new Args(r.GetValue(epochs), r.GetValue(trainRows), r.GetValue(testRows), r.GetValue(variant)!,
    r.GetValue(outDir)!, r.GetValue(minAccuracy), r.GetValue(threads), r.GetValue(noDeploy))));
return CommandLineApp.Run(root, args);

static int Train(Args opts)
{
    if (opts.Threads is int threads) TorchSharp.torch.set_num_threads(threads);
    var ml = new MLContext(seed: 0);
    var source = FashionMnist.LocateDirectory() ?? "the embedded subset (install dataset-fashion-mnist for the full data)";
    Console.WriteLine($"Fashion-MNIST from {source}; torch threads: {TorchSharp.torch.get_num_threads()}");
    var train = FashionMnist.Load(ml, FashionMnistSplit.Train, opts.TrainRows);
    var test = FashionMnist.Load(ml, FashionMnistSplit.Test, opts.TestRows);
    Console.WriteLine($"train rows {train.GetRowCount()}, test rows {test.GetRowCount()}");

    var history = new List<TrainingProgress>();
    var sw = Stopwatch.StartNew();
    var trainer = ml.MulticlassClassification.Trainers.TinyViM(new TinyViMClassifier.Options
    {
        Variant = opts.Variant, MaxEpochs = opts.Epochs, BatchSize = 64, LearningRate = 2e-3, WarmupSteps = 100,
        Mean = new[] { 0.2860f, 0.2860f, 0.2860f }, Std = new[] { 0.3530f, 0.3530f, 0.3530f }, // Fashion-MNIST statistics
        LogEveryNSteps = 25,
        DeployForInference = !opts.NoDeploy,
        Progress = new ConsoleTrainingProgress(maxEpochs: opts.Epochs, onReport: history.Add), // one updating line per epoch on a terminal
    });
    // 28×28 is not a valid TinyViM input (every scan runs on the 1/32 grid): resize to 64×64 in the pipeline.
    var pipeline = ml.Transforms.ResizeImages("Image", 64, 64, "Image").Append(trainer);
    var model = pipeline.Fit(train);
    var trainTime = sw.Elapsed;

    sw.Restart();
    var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
    Console.WriteLine($"test accuracy {metrics.MicroAccuracy:P2} (macro {metrics.MacroAccuracy:P2}), log-loss {metrics.LogLoss:F4}; " +
                      $"training {trainTime:mm\\:ss}, evaluation {sw.Elapsed:mm\\:ss}");

    Directory.CreateDirectory(opts.Out);
    var cmPng = Path.Combine(opts.Out, "tinyvim-confusion.png");
    ConfusionMatrixChart.Save(cmPng, metrics.ConfusionMatrix, FashionMnist.ClassNames, $"TinyViM-{opts.Variant} on Fashion-MNIST: test accuracy {metrics.MicroAccuracy:P1}");
    Console.WriteLine($"wrote {cmPng}");
    var zip = Path.Combine(opts.Out, "tinyvim-fashion-mnist.zip");
    ml.Model.Save(model, train.Schema, zip);
    Console.WriteLine($"saved {zip} ({new FileInfo(zip).Length / 1024} KiB)");

    // What a service does: a fresh context, one registration call, load, predict.
    var serving = new MLContext().RegisterMLNetExtensions();
    var loaded = serving.Model.Load(zip, out _);
    var sample = serving.Data.TakeRows(test, 8);
    var predicted = loaded.Transform(sample);
    var truth = sample.GetColumn<uint>("Label").ToArray();
    var guess = predicted.GetColumn<uint>("PredictedLabel").ToArray();
    var scores = predicted.GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray(); // copy: cursors reuse buffers
    for (int i = 0; i < truth.Length; i++)
        Console.WriteLine($"  image {i}: predicted {FashionMnist.ClassNames[guess[i] - 1],-12} ({scores[i][(int)guess[i] - 1]:P0})  actual {FashionMnist.ClassNames[truth[i] - 1]}");

    if (history.Count > 0)
    {
        var png = Path.Combine(opts.Out, "tinyvim-training.png");
        var steps = history.Where(h => !h.EpochCompleted).ToList();
        if (steps.Count == 0) steps = history;
        new PngChart { Title = $"TinyViM-{opts.Variant} on Fashion-MNIST 64×64: test accuracy {metrics.MicroAccuracy:P1}", XLabel = "optimisation step", YLabel = "mean train loss of the epoch so far" }
            .AddLine("train loss", steps.Select(h => (double)h.Step), steps.Select(h => h.TrainLoss))
            .AddLine("learning rate × 500", steps.Select(h => (double)h.Step), steps.Select(h => h.LearningRate * 500))
            .Save(png);
        Console.WriteLine($"wrote {png}");
    }
    (loaded as IDisposable)?.Dispose();
    if (metrics.MicroAccuracy >= opts.MinAccuracy) return 0;
    Console.Error.WriteLine($"test accuracy {metrics.MicroAccuracy:P2} is below --min-accuracy {opts.MinAccuracy:P2}");
    return Failure;
}

sealed record Args(int Epochs, int? TrainRows, int? TestRows, string Variant, string Out, double MinAccuracy, int? Threads, bool NoDeploy);

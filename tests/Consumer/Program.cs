// Consumer check: trains a tiny TinyViM from the packages, saves it, reloads it in a fresh MLContext and predicts,
// then reports which libLibTorchSharp.so the process loaded (it must be the copy in this app's output folder).
// Usage: Consumer OUT_DIR   (writes OUT_DIR/model.zip and the ExCP checkpoint chain OUT_DIR/checkpoints/excp)
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions;
using MLNetExtensions.Estimators.TinyViM;
using MLNetExtensions.Transforms.Datasets;
using MLNetExtensions.Transforms.Excp;

var outDir = Path.GetFullPath(args.Length > 0 ? args[0] : "out");
Directory.CreateDirectory(outDir);
TorchSharp.torch.set_num_threads(1);

var ml = new MLContext(seed: 0);
var train = FashionMnist.Load(ml, FashionMnistSplit.Train, 96);
var test = FashionMnist.Load(ml, FashionMnistSplit.Test, 16);
var pipeline = ml.Transforms.ResizeImages("Image", 64, 64, "Image")
    .Append(ml.MulticlassClassification.Trainers.TinyViM(new TinyViMClassifier.Options
    {
        Variant = "Micro", MaxEpochs = 1, BatchSize = 32, BatchNormRecalibrationBatches = 1,
        CheckpointDirectory = Path.Combine(outDir, "checkpoints"), CheckpointFormat = new ExcpOptions(),
    }));
var model = pipeline.Fit(train);
var zip = Path.Combine(outDir, "model.zip");
ml.Model.Save(model, train.Schema, zip);

var serving = new MLContext().RegisterMLNetExtensions();
var loaded = serving.Model.Load(zip, out _);
var predicted = loaded.Transform(test).GetColumn<uint>("PredictedLabel").ToArray();
if (predicted.Length != 16 || predicted.Any(p => p < 1 || p > 10))
{
    Console.Error.WriteLine($"consumer: bad predictions [{string.Join(",", predicted)}]");
    return 1;
}
Console.WriteLine($"consumer: trained, saved {zip} ({new FileInfo(zip).Length / 1024} KiB), reloaded, predicted [{string.Join(",", predicted)}]");

var native = File.Exists("/proc/self/maps")
    ? File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "")
        .FirstOrDefault(p => p.EndsWith("/libLibTorchSharp.so", StringComparison.Ordinal))
    : null;
Console.WriteLine($"consumer: libLibTorchSharp.so loaded from {native ?? "(unknown)"}");
if (native != null && !native.StartsWith(AppContext.BaseDirectory, StringComparison.Ordinal))
{
    Console.Error.WriteLine($"consumer: TorchSharp loaded its native library from outside the app folder {AppContext.BaseDirectory}");
    return 1;
}
(loaded as IDisposable)?.Dispose();
return 0;

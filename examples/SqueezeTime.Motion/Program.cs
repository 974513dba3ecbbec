// Trains SqueezeTime (tiny) on moving Fashion-MNIST direction clips (4 classes; single frames carry no class information)
// and a single-frame SimpleConvNet baseline on the middle frame; prints both test accuracies and writes a PNG of test
// clips with predictions. Usage: dotnet run --project examples/SqueezeTime.Motion -c Release [-- --train N --test N --epochs N --threads N --out DIR --from-mp4]
// --from-mp4: writes every clip as an H.264 mp4 under DIR/clips and trains from a text column of paths through
// mlContext.Transforms.LoadVideoFrames (ffmpeg decoding) + AppendCacheCheckpoint + the SqueezeTime trainer.
using System.CommandLine;
using System.Diagnostics;
using Microsoft.ML;
using MLNetExtensions.CommandLine;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Transforms.Datasets.Video;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Core.Plotting;
using MLNetExtensions.Estimators.SqueezeTime;
using MLNetExtensions.Transforms.Baselines;
using MLNetExtensions.Transforms.SqueezeTime;
using MLNetExtensions.Transforms.Video;
using TorchSharp;
using static TorchSharp.torch;
using static MLNetExtensions.CommandLine.CommandLineApp;
using MLNetExtensions.Transforms.Datasets;

var trainO = Defaulted("--train", "Training clips.", 1500);
var testO = Defaulted("--test", "Test clips.", 400);
var epochsO = Defaulted("--epochs", "Training epochs.", 4);
var threadsO = new Option<int?>("--threads") { Description = "LibTorch intra-op threads (default: one per core)." };
var outO = Defaulted("--out", "Output folder.", "squeezetime-motion-out");
var fromMp4O = Defaulted("--from-mp4", "Write the clips as H.264 mp4 files and train from their paths (needs ffmpeg).", false);
var root = new RootCommand("SqueezeTime on moving Fashion-MNIST direction clips vs a single-frame baseline. " + ExitCodesHelp)
    { trainO, testO, epochsO, threadsO, outO, fromMp4O };
if (CommandLineApp.Parse(root, args, out int exit) is not { } cli) return exit;
string outDir = cli.GetValue(outO)!;
int nTrain = cli.GetValue(trainO), nTest = cli.GetValue(testO), epochs = cli.GetValue(epochsO);
if (cli.GetValue(threadsO) is int th and > 0) torch.set_num_threads(th);
bool fromMp4 = cli.GetValue(fromMp4O);

var ml = new MLContext(seed: 0);
var train = new MovingFashionMnist(new MovingFashionMnistOptions(nTrain, Seed: 1));
var test = new MovingFashionMnist(new MovingFashionMnistOptions(nTest, Seed: 2, Split: FashionMnistSplit.Test));
var o = train.Options;
Console.WriteLine($"clips: train {nTrain}, test {nTest}; T={o.Frames}, {o.Width}×{o.Height}, classes {string.Join("/", MovingFashionMnist.ClassNames)}; torch threads {torch.get_num_threads()}");

// 1. SqueezeTime through the ML.NET trainer: from the generator's in-memory clips, or (--from-mp4) from mp4 files.
var sw = Stopwatch.StartNew();
var options = new SqueezeTimeVideoClassifier.Options
{
    Config = SqueezeTimeConfig.Tiny(frames: o.Frames) with { DropoutRatio = 0 },
    MaxEpochs = epochs, BatchSize = 32, LearningRate = 3e-3, LabelSmoothing = 0, WeightDecay = 0.01, Seed = 7,
    BatchNormRecalibrationBatches = 8, LogEveryNSteps = 10,
    Progress = new MLNetExtensions.Core.Training.ConsoleTrainingProgress("SqueezeTime", epochs),
};
TorchImageClassificationTransformer model;
IDataView scored;
ITransformer? videoModel = null;
if (!fromMp4)
{
    model = ml.MulticlassClassification.Trainers.SqueezeTime(options).Fit(train);
    scored = model.Transform(test);
}
else
{
    var clipDir = Path.Combine(outDir, "clips");
    var trainFiles = ml.Data.LoadFromEnumerable(ClipFiles.Write(train, Path.Combine(clipDir, "train")));
    var testFiles = ml.Data.LoadFromEnumerable(ClipFiles.Write(test, Path.Combine(clipDir, "test")));
    Console.WriteLine($"wrote {nTrain + nTest} mp4 clips under {clipDir} ({sw.Elapsed:mm\\:ss})");
    var pipeline = ml.Transforms.LoadVideoFrames("Video", "Path", o.Frames, o.Height, o.Width, videoFolder: clipDir)
        .AppendCacheCheckpoint(ml) // decode once, not once per epoch
        .Append(ml.MulticlassClassification.Trainers.SqueezeTime(options));
    var chain = pipeline.Fit(trainFiles);
    videoModel = chain;
    model = chain.LastTransformer;
    scored = chain.Transform(testFiles);
}
var stMetrics = ml.MulticlassClassification.Evaluate(scored);
var acc = stMetrics.MicroAccuracy;
Directory.CreateDirectory(outDir);
var cmPng = Path.Combine(outDir, "squeezetime-confusion.png");
ConfusionMatrixChart.Save(cmPng, stMetrics.ConfusionMatrix, MovingFashionMnist.ClassNames, $"SqueezeTime tiny on moving Fashion-MNIST: test accuracy {acc:P1}");
Console.WriteLine($"wrote {cmPng}");
int stParams = (int)model.Network.parameters().Sum(p => p.numel());
Console.WriteLine($"SqueezeTime tiny ({stParams:N0} params){(fromMp4 ? " from mp4 files via LoadVideoFrames" : "")}: test accuracy {acc:P1} (training {sw.Elapsed:mm\\:ss})");

// 2. Single-frame baseline: SimpleConvNet on the middle frame (no temporal information at all).
sw.Restart();
torch.manual_seed(7);
using var cnn = new SimpleConvNet(new SimpleConvNetConfig(3, 32, 3), 4);
int plane = 3 * o.Height * o.Width, mid = o.Frames / 2;
Tensor Frames(MovingFashionMnist v, int n, out long[] labels)
{
    var x = new float[n * plane]; labels = new long[n];
    for (int i = 0; i < n; i++) { var (clip, l) = v.GetClip(i); Array.Copy(clip, mid * plane, x, i * plane, plane); labels[i] = l; }
    return torch.tensor(x, new long[] { n, 3, o.Height, o.Width });
}
using var xTrain = Frames(train, nTrain, out var yTrainArr);
using var xTest = Frames(test, nTest, out var yTestArr);
using var yTrain = torch.tensor(yTrainArr);
var opt = torch.optim.Adam(cnn.parameters(), 1e-3);
var rng = new Random(0);
for (int e = 0; e < epochs * 2; e++)
{
    cnn.train();
    var perm = Enumerable.Range(0, nTrain).OrderBy(_ => rng.Next()).ToArray();
    for (int s = 0; s + 32 <= nTrain; s += 32)
    {
        using var scope = torch.NewDisposeScope();
        var idx = torch.tensor(perm.AsSpan(s, 32).ToArray().Select(i => (long)i).ToArray());
        var loss = nn.functional.cross_entropy(cnn.call(xTrain.index_select(0, idx)), yTrain.index_select(0, idx));
        opt.zero_grad(); loss.backward(); opt.step();
    }
}
cnn.eval();
double baseAcc;
using (torch.no_grad())
{
    var pred = cnn.call(xTest).argmax(1).data<long>().ToArray();
    baseAcc = pred.Zip(yTestArr).Count(p => p.First == p.Second) / (double)nTest;
}
int cnnParams = (int)cnn.parameters().Sum(p => p.numel());
Console.WriteLine($"single-frame SimpleConvNet ({cnnParams:N0} params, middle frame): test accuracy {baseAcc:P1} (chance 25%; {sw.Elapsed:mm\\:ss})");

// 3. PNG: 6 test clips, every frame, with true/predicted class under the first frame.
var preds = scored.GetColumn<uint>("PredictedLabel").Take(6).ToArray();
var cells = new List<(float[], int, int, int, string)>();
for (int i = 0; i < 6; i++)
{
    var (clip, label) = test.GetClip(i);
    for (int t = 0; t < o.Frames; t++)
        cells.Add((clip.AsSpan(t * plane, plane).ToArray(), 3, o.Height, o.Width,
            t == 0 ? $"{MovingFashionMnist.ClassNames[label]}→{MovingFashionMnist.ClassNames[preds[i] - 1]}" : $"t={t}"));
}
Directory.CreateDirectory(outDir);
var png = Path.Combine(outDir, "squeezetime-motion-samples.png");
PngChart.SaveImageGrid(png, cells, o.Frames, 3, $"SqueezeTime tiny {acc:P0} vs single frame {baseAcc:P0} (true→predicted)");
Console.WriteLine($"wrote {png}");
(videoModel as IDisposable)?.Dispose();
if (videoModel is null) model.Dispose();
return 0;

/// <summary>Writes a generator's clips as mp4 files and returns the rows of a path IDataView.</summary>
static class ClipFiles
{
    public sealed class Row
    {
        public string Path { get; set; } = "";
        [KeyType(4)] public uint Label { get; set; } // key fields of a class are 0-based
    }

    public static Row[] Write(MovingFashionMnist clips, string dir)
    {
        Directory.CreateDirectory(dir);
        var writer = new VideoClipWriter(frameRate: 8);
        var o = clips.Options;
        var rows = new Row[o.Count];
        Parallel.For(0, o.Count, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            var (clip, label) = clips.GetClip(i);
            var name = $"{System.IO.Path.GetFileName(dir)}/{i:D5}.mp4";
            var path = System.IO.Path.Combine(dir, $"{i:D5}.mp4");
            if (!File.Exists(path)) writer.Write(path, clip, o.Frames, o.Height, o.Width);
            rows[i] = new Row { Path = name, Label = (uint)label };
        });
        return rows;
    }
}

// SSA head vs the plain pixel classifier at the same budget on Fashion-MNIST scenes (64×64, 11 classes):
// mIoU / aAcc / per-class IoU on held-out scenes (items from the Fashion-MNIST test split) and PNG overlays.
// Usage: dotnet run -c Release -- [--train N] [--test N] [--epochs E] [--batch B] [--threads T] [--out DIR]
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Data.Scenes;
using MLNetExtensions.Core.Plotting;
using MLNetExtensions.Estimators.Segmentation;
using MLNetExtensions.Evaluators.Segmentation;
using MLNetExtensions.Transforms.Segmentation;
using TorchSharp;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
int Arg(string name, int dflt) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : dflt; }
string OutDir() { int i = Array.IndexOf(args, "--out"); return i >= 0 && i + 1 < args.Length ? args[i + 1] : "ssa-scenes-out"; }
int trainCount = Arg("--train", 800), testCount = Arg("--test", 200), epochs = Arg("--epochs", 6), batch = Arg("--batch", 16);
int threads = Arg("--threads", 1); // the shared 2-core box: one intra-op thread avoids oversubscription
torch.set_num_threads(threads);
var outDir = Directory.CreateDirectory(OutDir()).FullName;

var ml = new MLContext(seed: 0).RegisterMLNetExtensions();
var train = FashionScenes.Load(ml, new FashionSceneOptions { Count = trainCount, Seed = 1 });
var testScenes = FashionScenes.Create(ml, new FashionSceneOptions { Count = testCount, Seed = 2, Split = FashionMnistSplit.Test });
var test = testScenes.AsDataView();
Console.WriteLine($"Fashion-MNIST scenes 64×64, 2–4 items, 11 classes; train {trainCount} (train split), test {testCount} (test split); " +
    $"{epochs} epochs, batch {batch}, torch threads {threads}, full Fashion-MNIST: {FashionMnist.FullDataAvailable}");

var results = new List<(SegmentationHeadKind Head, SegmentationMetrics M, double Seconds, SsaSegmentationTransformer Model, SsaSegmenter Trainer)>();
foreach (var head in new[] { SegmentationHeadKind.Plain, SegmentationHeadKind.Ssa })
{
    var trainer = ml.Segmentation().Trainers.Ssa(new SsaSegmenter.Options
    {
        Head = head, MaxEpochs = epochs, BatchSize = batch, Seed = 42, LearningRate = 3e-3, WarmupSteps = 20, LogEveryNSteps = 25,
        Progress = new Progress<MLNetExtensions.Core.Training.TrainingProgress>(p =>
        {
            if (p.EpochCompleted) Console.WriteLine($"  [{head}] epoch {p.Epoch}: loss {p.TrainLoss:F4} ({p.Elapsed.TotalSeconds:F0}s)");
        }),
    });
    var sw = Stopwatch.StartNew();
    var model = trainer.Fit(train);
    double secs = sw.Elapsed.TotalSeconds;
    var m = ml.Segmentation().Evaluate(model.Transform(test), "Mask", "PredictedLabel");
    Console.WriteLine($"{head}: mIoU {100 * m.MeanIoU:F2}  aAcc {100 * m.AAcc:F2}  mAcc {100 * m.MeanAcc:F2}  ({secs:F0}s training)");
    results.Add((head, m, secs, model, trainer));
}

// Report.
var sb = new StringBuilder();
sb.AppendLine($"| head | mIoU | aAcc | mAcc | train s |");
sb.AppendLine("|---|---|---|---|---|");
foreach (var r in results) sb.AppendLine($"| {r.Head} | {100 * r.M.MeanIoU:F2} | {100 * r.M.AAcc:F2} | {100 * r.M.MeanAcc:F2} | {r.Seconds:F0} |");
sb.AppendLine();
sb.AppendLine("| class | " + string.Join(" | ", results.Select(r => $"IoU {r.Head}")) + " |");
sb.AppendLine("|---|" + string.Concat(results.Select(_ => "---|")));
for (int c = 0; c < FashionScenes.NumClasses; c++)
    sb.AppendLine($"| {FashionScenes.ClassNames[c]} | " + string.Join(" | ", results.Select(r => $"{100 * r.M.IoU[c]:F2}")) + " |");
var ssa = results.First(r => r.Head == SegmentationHeadKind.Ssa);
sb.AppendLine();
sb.AppendLine("SSA loss terms per epoch (mean):");
foreach (var (e, terms) in ssa.Trainer.LossTermHistory.Select((t, i) => (i + 1, t)))
    sb.AppendLine($"- epoch {e}: " + string.Join(", ", terms.Select(kv => $"{kv.Key} {kv.Value:F3}")));
Console.WriteLine();
Console.WriteLine(sb.ToString());
File.WriteAllText(Path.Combine(outDir, "results.md"), sb.ToString());

// Overlays: image | ground truth | plain | SSA for the first test scenes.
var palette = new float[FashionScenes.NumClasses, 3];
for (int c = 1; c < FashionScenes.NumClasses; c++)
{
    double hue = (c - 1) / 10.0 * 6;
    int k = (int)hue; float f = (float)(hue - k);
    float[] rgb = (k % 6) switch { 0 => new[] { 1, f, 0 }, 1 => new[] { 1 - f, 1, 0 }, 2 => new[] { 0, 1, f }, 3 => new[] { 0, 1 - f, 1 }, 4 => new[] { f, 0, 1 }, _ => new[] { 1, 0, 1 - f } };
    for (int j = 0; j < 3; j++) palette[c, j] = rgb[j];
}
float[] Overlay(float[] img, IReadOnlyList<int> cls)
{
    var o = (float[])img.Clone();
    int plane = 64 * 64;
    for (int p = 0; p < plane; p++)
        if (cls[p] != 0)
            for (int j = 0; j < 3; j++) o[j * plane + p] = 0.35f * img[j * plane + p] + 0.65f * palette[cls[p], j];
    return o;
}
int shown = Math.Min(6, testCount);
var maps = results.ToDictionary(r => r.Head, r => ReadMaps(r.Model.Transform(test), shown));
var cells = new List<(float[], int, int, int, string)>();
for (int i = 0; i < shown; i++)
{
    var s = testScenes.Generate(i);
    cells.Add((s.Image, 3, 64, 64, $"scene {i}"));
    cells.Add((Overlay(s.Image, s.Classes.Select(c => (int)c).ToArray()), 3, 64, 64, "ground truth"));
    foreach (var r in results) cells.Add((Overlay(s.Image, maps[r.Head][i]), 3, 64, 64, r.Head.ToString()));
}
var png = Path.Combine(outDir, "overlays.png");
PngChart.SaveImageGrid(png, cells, columns: 2 + results.Count, scale: 3, title: "Fashion-MNIST scenes: ground truth, plain head, SSA head");
Console.WriteLine($"Wrote {png} and results.md to {outDir}");
foreach (var r in results) r.Model.Dispose();

static List<int[]> ReadMaps(IDataView scored, int n)
{
    var list = new List<int[]>();
    using var cur = scored.GetRowCursor(new[] { scored.Schema["PredictedLabel"] });
    var get = cur.GetGetter<VBuffer<uint>>(scored.Schema["PredictedLabel"]);
    VBuffer<uint> buf = default;
    while (list.Count < n && cur.MoveNext()) { get(ref buf); list.Add(buf.DenseValues().Select(k => (int)k - 1).ToArray()); }
    return list;
}

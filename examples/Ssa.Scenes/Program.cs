// SSA head vs the plain pixel classifier at the same budget on Fashion-MNIST scenes (64×64, 11 classes), over
// several seeds: mIoU / aAcc / per-class IoU on held-out scenes (items from the Fashion-MNIST test split) and PNG overlays.
// Both heads share data, backbone (optionally pretrained once on Fashion-MNIST item classification, the stand-in for
// the paper's ImageNet pretraining), decoder, AdamW, schedule, budget and the recipe's ×10 head lr. Two comparisons:
// each head at its own validation-chosen lr (--sweep-lr redoes the choice with the Core tuner), then both heads at the
// literal official lr 6e-5 with --official 1.
// Usage: dotnet run -c Release -- [--quick] [--train N] [--test N] [--val N] [--epochs E] [--batch B] [--seeds 1,2,3]
//        [--lr X | --sweep-lr X1,X2,… --val N [--sweep-seeds K]] [--official 0|1] [--head-lr-mult X] [--channels C] [--warmup S]
//        [--pretrain-steps S | --pretrained FILE] [--heads plain,ssa] [--threads T] [--out DIR]
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.ML;
using MLNetExtensions.CommandLine;
using Microsoft.ML.Data;
using MLNetExtensions;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Transforms.Datasets.Scenes;
using MLNetExtensions.Core.Plotting;
using MLNetExtensions.Core.Tuning;
using MLNetExtensions.Estimators.Segmentation;
using MLNetExtensions.Evaluators.Segmentation;
using MLNetExtensions.Examples.SsaScenes;
using MLNetExtensions.Transforms.Segmentation;
using TorchSharp;
using MLNetExtensions.Transforms.Datasets;
using MLNetExtensions.Transforms.Ssa;
using static MLNetExtensions.CommandLine.CommandLineApp;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
var quickO = Defaulted("--quick", "Smaller run: 480 train scenes, 5 epochs, seed 1, 200 pre-training steps.", false);
Option<int?> QuickOr(string name, string what, int full, int quick) => new(name) { Description = $"{what} (default {full}; {quick} with --quick)." };
var trainO = QuickOr("--train", "Training scenes", 1200, 480);
var testO = Defaulted("--test", "Test scenes.", 200);
var valO = Defaulted("--val", "Validation scenes (0 = none; --sweep-lr needs some).", 0);
var epochsO = QuickOr("--epochs", "Training epochs", 8, 5);
var batchO = Defaulted("--batch", "Batch size.", 16);
var seedsO = ListOption<int>("--seeds", "Seeds, comma-separated (default 1,2,3; 1 with --quick).");
var lrO = new Option<double?>("--lr") { Description = "One learning rate for both heads (default: each head's validation-chosen rate, 6e-3)." };
var headMultO = Defaulted("--head-lr-mult", "Decode-head learning-rate multiplier.", 10.0);
var channelsO = Defaulted("--channels", "Decoder channels.", 64);
var warmupO = Defaulted("--warmup", "Warm-up steps.", 50);
var pretrainStepsO = QuickOr("--pretrain-steps", "Backbone pre-training steps (0 = random backbone)", 800, 200);
var headsO = Defaulted("--heads", "Heads, comma-separated: plain, ssa.", "plain,ssa");
var threadsO = Defaulted("--threads", "LibTorch intra-op threads.", 1);
var outO = Defaulted("--out", "Output folder.", "ssa-scenes-out");
var pretrainedO = new Option<string?>("--pretrained") { Description = "Backbone weights to start from instead of pre-training here." }.ExistingFile();
var sweepLrO = new Option<string?>("--sweep-lr") { Description = "Learning-rate grid, comma-separated, chosen per head on the validation scenes (needs --val)." };
var sweepSeedsO = Defaulted("--sweep-seeds", "Seeds per sweep trial.", 1);
var officialO = Defaulted("--official", "1: the official learning-rate schedule (when --lr is not given).", 0);
var root = new RootCommand("SSA vs a plain decode head on Fashion-MNIST scenes (semantic segmentation), paired seeds. " + ExitCodesHelp)
    { quickO, trainO, testO, valO, epochsO, batchO, seedsO, lrO, headMultO, channelsO, warmupO, pretrainStepsO, headsO, threadsO, outO, pretrainedO, sweepLrO, sweepSeedsO, officialO };
if (CommandLineApp.Parse(root, args, out int exit) is not { } cli) return exit;
bool quick = cli.GetValue(quickO);
int trainCount = cli.GetValue(trainO) ?? (quick ? 480 : 1200), testCount = cli.GetValue(testO), valCount = cli.GetValue(valO);
int epochs = cli.GetValue(epochsO) ?? (quick ? 5 : 8), batch = cli.GetValue(batchO);
int[] seeds = cli.GetValue(seedsO) ?? (quick ? new[] { 1 } : new[] { 1, 2, 3 });
double lr = cli.GetValue(lrO) ?? new SsaSegmenter.Options().LearningRate, headMult = cli.GetValue(headMultO);
int channels = cli.GetValue(channelsO);
int warmup = cli.GetValue(warmupO), pretrainSteps = cli.GetValue(pretrainStepsO) ?? (quick ? 200 : 800);
var heads = cli.GetValue(headsO)!.Split(',').Select(h => Enum.TryParse<SegmentationHeadKind>(h, ignoreCase: true, out var k) ? k
    : throw new UsageException($"--heads: no head '{h}'; expected plain and/or ssa.")).ToArray();
int threads = cli.GetValue(threadsO); // the shared 2-core box: one intra-op thread avoids oversubscription
string? Str(string name) => name switch
{
    "--lr" => cli.GetValue(lrO)?.ToString("R", CultureInfo.InvariantCulture),
    "--sweep-lr" => cli.GetValue(sweepLrO),
    "--pretrained" => cli.GetValue(pretrainedO),
    _ => throw new ArgumentOutOfRangeException(nameof(name)),
};
int Arg(string name, int dflt) => name switch { "--sweep-seeds" => cli.GetValue(sweepSeedsO), "--official" => cli.GetValue(officialO), _ => dflt };
torch.set_num_threads(threads);
var outDir = Directory.CreateDirectory(cli.GetValue(outO)!).FullName;

var ml = new MLContext(seed: 0).RegisterMLNetExtensions();
// With the full Fashion-MNIST, training items come from train rows [0, 50000) and validation items from rows 50000+,
// so validation (used to choose settings) sees unseen items like the test set does.
bool heldOut = FashionMnist.FullDataAvailable;
var train = FashionScenes.Load(ml, new FashionSceneOptions { Count = trainCount, Seed = 1, SourceRows = heldOut ? 50_000 : null });
var testScenes = FashionScenes.Create(ml, new FashionSceneOptions { Count = testCount, Seed = 2, Split = FashionMnistSplit.Test });
var test = testScenes.AsDataView();
// Validation scenes: for choosing settings without the test set; a different scene seed.
var val = valCount > 0 ? FashionScenes.Load(ml, new FashionSceneOptions { Count = valCount, Seed = 3, SkipSourceRows = heldOut ? 50_000 : 0 }) : null;
long steps = (trainCount + batch - 1) / batch * (long)epochs;
Console.WriteLine($"Fashion-MNIST scenes 64×64, 2–4 items, 11 classes; train {trainCount} (train split), test {testCount} (test split)" +
    (val != null ? $", validation {valCount} (train split{(heldOut ? " rows 50000+, unseen in training" : ", items seen in training")})" : "") + $"; {epochs} epochs × batch {batch} = {steps} steps per head; " +
    $"AdamW lr {(Str("--lr") != null ? lr.ToString("G3") : Str("--sweep-lr") != null ? "chosen per head on validation" : "per head (validation-chosen: plain 6e-3, SSA 6e-3)")}, decode head ×{headMult:G3}, {warmup} warm-up steps, linear decay; seeds {string.Join(",", seeds)}; " +
    $"torch threads {threads}, full Fashion-MNIST: {FashionMnist.FullDataAvailable}");

var defaults = new SsaSegmenter.Options();
string? pretrained = Str("--pretrained");
double? pretrainAcc = null; double pretrainSecs = 0;
if (pretrained == null && pretrainSteps > 0)
{
    pretrained = Path.Combine(outDir, "backbone-pretrained.pt");
    var psw = Stopwatch.StartNew();
    pretrainAcc = BackbonePretraining.Run(pretrained, new ConvPyramidConfig(defaults.BackboneWidths), defaults.Mean, defaults.Std,
        pretrainSteps, 64, seed: 0, Console.WriteLine);
    pretrainSecs = psw.Elapsed.TotalSeconds;
    Console.WriteLine($"Backbone pretrained on Fashion-MNIST item classification: {pretrainSteps} steps × 64, held-out accuracy {100 * pretrainAcc:F1}% ({pretrainSecs:F0}s)");
}
Console.WriteLine(pretrained != null ? $"Both heads start from {pretrained}." : "Both heads start from a random backbone.");

// One factory for every run, so sweep trials and the final runs differ only in head, seed and learning rate.
SsaSegmenter.Options NewOptions(SegmentationHeadKind head, int seed, double learningRate) => new()
{
    Head = head, MaxEpochs = epochs, BatchSize = batch, Seed = seed, LearningRate = learningRate, HeadLearningRateMultiplier = headMult,
    DecoderChannels = channels, WarmupSteps = warmup, LogEveryNSteps = 25, PretrainedWeightsPath = pretrained,
    Progress = new MLNetExtensions.Core.Training.ConsoleTrainingProgress($"{head} seed {seed}", epochs),
};

// --sweep-lr: each head's learning rate is chosen on the validation scenes (held-out items) by the Core tuner (grid over
// head × lr, mean validation mIoU over --sweep-seeds seeds), then each head trains at its own best lr below.
// Without --lr or --sweep-lr each head trains at its own validation-best lr from the grid 2e-4, 5e-4, 1.5e-3, 3e-3,
// 6e-3 (plain also 1.2e-2) on 200 held-out validation scenes, seed 1 (docs/ssa.md): both heads peak at 6e-3.
var chosenLr = new Dictionary<SegmentationHeadKind, double> { [SegmentationHeadKind.Plain] = 6e-3, [SegmentationHeadKind.Ssa] = 6e-3 };
var lrByHead = heads.ToDictionary(h => h, h => Str("--lr") != null ? lr : chosenLr[h]);
string sweepNote = "";
if (Str("--sweep-lr") is string sweepGrid)
{
    if (val is null) throw new ArgumentException("--sweep-lr chooses learning rates on validation scenes: add --val N (e.g. --val 200).");
    var grid = sweepGrid.Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
    var sweeps = ml.Sweeps();
    var space = sweeps.SearchSpace<SsaSegmenter.Options>().Choice(o => o.Head, heads).Values(o => o.LearningRate, grid, logBase: true);
    var sweep = sweeps.Create(() => NewOptions(heads[0], seeds[0], lr), space, sweeps.GridSearch(), (o, trial, ct) =>
    {
        using var model = ml.Segmentation().Trainers.Ssa(o).Fit(train);
        double v = 100 * ml.Segmentation().Evaluate(model.Transform(val), "Mask", "PredictedLabel").MeanIoU;
        Console.WriteLine($"sweep {trial.TrialIndex + 1}/{trial.TotalTrials}: {o.Head} lr {o.LearningRate:G3} seed {o.Seed}: validation mIoU {v:F2}");
        return v;
    });
    sweep.Maximize = true;
    sweep.MetricName = "val_mIoU";
    sweep.SeedsPerTrial = Arg("--sweep-seeds", 1);
    sweep.ResultsPath = Path.Combine(outDir, "lr-sweep.csv"); // re-running resumes from here
    var result = sweep.Run();
    foreach (var h in heads)
        lrByHead[h] = result.Settings.Where(t => t.Parameters.Get<SegmentationHeadKind>(nameof(SsaSegmenter.Options.Head)) == h)
            .MaxBy(t => t.Mean)!.Parameters.Get<double>(nameof(SsaSegmenter.Options.LearningRate));
    result.SavePlot(Path.Combine(outDir, "lr-sweep.png"), nameof(SsaSegmenter.Options.LearningRate),
        $"Validation mIoU vs learning rate (decode head ×{headMult:G3}, {steps} steps)");
    sweepNote = $"Learning rates chosen on {valCount} validation scenes from {string.Join(", ", grid.Select(g => g.ToString("G3")))} " +
        $"({sweep.SeedsPerTrial} seed(s) each): " + string.Join(", ", heads.Select(h => $"{h} {lrByHead[h]:G3}")) + ".\n\n" + result.ToMarkdownTable();
    Console.WriteLine(sweepNote);
}

var runs = new List<Run>();
var keep = new Dictionary<SegmentationHeadKind, SsaSegmentationTransformer>();
SsaSegmenter? lastSsa = null;
Run TrainAndScore(SegmentationHeadKind head, int seed, double learningRate, string protocol, bool keepModel)
{
    var trainer = ml.Segmentation().Trainers.Ssa(NewOptions(head, seed, learningRate));
    var sw = Stopwatch.StartNew();
    var model = trainer.Fit(train);
    double secs = sw.Elapsed.TotalSeconds;
    var m = ml.Segmentation().Evaluate(model.Transform(test), "Mask", "PredictedLabel");
    double? vm = val != null ? ml.Segmentation().Evaluate(model.Transform(val), "Mask", "PredictedLabel").MeanIoU : null;
    Console.WriteLine($"[{protocol}] {head} lr {learningRate:G3} seed {seed}: mIoU {100 * m.MeanIoU:F2}  aAcc {100 * m.AAcc:F2}  mAcc {100 * m.MeanAcc:F2}" +
        (vm != null ? $"  (validation mIoU {100 * vm:F2})" : "") + $"  ({secs:F0}s training)");
    File.AppendAllText(Path.Combine(outDir, "runs.csv"), FormattableString.Invariant(
        $"{protocol},{head},{seed},{steps},{learningRate},{headMult},{warmup},{(pretrainAcc != null ? pretrainSteps.ToString() : pretrained != null ? "file" : "0")},{100 * m.MeanIoU:F2},{100 * m.AAcc:F2},{100 * m.MeanAcc:F2},{(vm is double v ? (100 * v).ToString("F2") : "")},{secs:F0}\n"));
    if (head == SegmentationHeadKind.Ssa) lastSsa = trainer;
    if (trainer.PretrainedTensorsLoaded is int nLoaded && seed == seeds[0] && keepModel) Console.WriteLine($"  ({head}: {nLoaded} pretrained backbone tensors loaded)");
    if (keepModel) keep[head] = model; else model.Dispose();
    return new Run(head, seed, m, vm, secs);
}
foreach (int seed in seeds)
    foreach (var head in heads)
        runs.Add(TrainAndScore(head, seed, lrByHead[head], "tuned", keepModel: seed == seeds[0]));

// --official 1: also the literal official optimiser (AdamW 6e-5, head ×10) for both heads (unless one --lr was given).
const double OfficialLr = 6e-5;
var officialRuns = new List<Run>();
if (Arg("--official", 0) != 0 && Str("--lr") == null)
    foreach (int seed in seeds)
        foreach (var head in heads)
            officialRuns.Add(TrainAndScore(head, seed, OfficialLr, "official", keepModel: false));

// Report.
static (double Mean, double Sd) Stats(IEnumerable<double> xs)
{
    var a = xs.ToArray();
    double mean = a.Average();
    return (mean, a.Length > 1 ? Math.Sqrt(a.Sum(x => (x - mean) * (x - mean)) / (a.Length - 1)) : 0);
}
string Pm(IEnumerable<double> xs) { var (mu, sd) = Stats(xs); return seeds.Length > 1 ? $"{mu:F2} ± {sd:F2}" : $"{mu:F2}"; }
var sb = new StringBuilder();
sb.AppendLine($"{steps} steps per head (train {trainCount} × {epochs} epochs, batch {batch}), lr " +
    string.Join(", ", heads.Select(h => $"{h} {lrByHead[h]:G3}")) + $" with decode head ×{headMult:G3}, decoder C = {channels}, " +
    $"{warmup} warm-up steps, linear decay; backbone: " + (pretrained != null ? (pretrainAcc != null
        ? $"pretrained ({pretrainSteps} steps × 64 single-item scenes, held-out item accuracy {100 * pretrainAcc:F1}%, {pretrainSecs:F0}s)" : $"pretrained ({pretrained})") : "random init") +
    $"; seeds {string.Join(", ", seeds)}; test {testCount} scenes (Fashion-MNIST test split).");
sb.AppendLine();
if (sweepNote.Length > 0) { sb.AppendLine(sweepNote); sb.AppendLine(); }
sb.AppendLine("| head | seed | mIoU | aAcc | mAcc |" + (val != null ? " val mIoU |" : "") + " train s |");
sb.AppendLine("|---|---|---|---|---|" + (val != null ? "---|" : "") + "---|");
foreach (var r in runs)
    sb.AppendLine($"| {r.Head} | {r.Seed} | {100 * r.M.MeanIoU:F2} | {100 * r.M.AAcc:F2} | {100 * r.M.MeanAcc:F2} |" +
        (val != null ? $" {100 * r.Val:F2} |" : "") + $" {r.Seconds:F0} |");
sb.AppendLine();
sb.AppendLine($"Each head at its lr above; over seeds (mean{(seeds.Length > 1 ? " ± sample s.d." : "")}):");
sb.AppendLine();
sb.AppendLine("| head | mIoU | aAcc | mAcc |" + (val != null ? " val mIoU |" : ""));
sb.AppendLine("|---|---|---|---|" + (val != null ? "---|" : ""));
foreach (var h in heads)
{
    var rs = runs.Where(r => r.Head == h).ToList();
    sb.AppendLine($"| {h} | {Pm(rs.Select(r => 100 * r.M.MeanIoU))} | {Pm(rs.Select(r => 100 * r.M.AAcc))} | {Pm(rs.Select(r => 100 * r.M.MeanAcc))} |" +
        (val != null ? $" {Pm(rs.Select(r => 100 * r.Val!.Value))} |" : ""));
}
string? Compare(List<Run> rs)
{
    if (!heads.Contains(SegmentationHeadKind.Ssa) || !heads.Contains(SegmentationHeadKind.Plain)) return null;
    var diffs = seeds.Select(s => 100 * (rs.Single(r => r.Seed == s && r.Head == SegmentationHeadKind.Ssa).M.MeanIoU
                                        - rs.Single(r => r.Seed == s && r.Head == SegmentationHeadKind.Plain).M.MeanIoU)).ToArray();
    return $"SSA − plain mIoU per seed: {string.Join(", ", diffs.Select(d => d.ToString("+0.00;-0.00")))}; mean {Pm(diffs)}; SSA ahead in {diffs.Count(d => d > 0)} of {diffs.Length} seeds.";
}
if (Compare(runs) is string tunedLine) { sb.AppendLine(); sb.AppendLine(tunedLine); }
if (officialRuns.Count > 0)
{
    sb.AppendLine();
    sb.AppendLine($"Literal official optimiser (AdamW lr {OfficialLr:G3} for both heads, decode head ×{headMult:G3}), same seeds and budget:");
    sb.AppendLine();
    sb.AppendLine("| head | mIoU per seed | mean | aAcc |");
    sb.AppendLine("|---|---|---|---|");
    foreach (var h in heads)
    {
        var rs = officialRuns.Where(r => r.Head == h).ToList();
        sb.AppendLine($"| {h} | {string.Join(", ", rs.Select(r => (100 * r.M.MeanIoU).ToString("F2")))} | {Pm(rs.Select(r => 100 * r.M.MeanIoU))} | {Pm(rs.Select(r => 100 * r.M.AAcc))} |");
    }
    if (Compare(officialRuns) is string officialLine) { sb.AppendLine(); sb.AppendLine(officialLine); }
}
sb.AppendLine();
sb.AppendLine("| class | " + string.Join(" | ", heads.Select(h => $"IoU {h}")) + " |");
sb.AppendLine("|---|" + string.Concat(heads.Select(_ => "---|")));
for (int c = 0; c < FashionScenes.NumClasses; c++)
    sb.AppendLine($"| {FashionScenes.ClassNames[c]} | " + string.Join(" | ", heads.Select(h => Pm(runs.Where(r => r.Head == h).Select(r => 100 * r.M.IoU[c])))) + " |");
if (lastSsa != null)
{
    sb.AppendLine();
    sb.AppendLine($"SSA loss terms per epoch (mean; seed {seeds[^1]}):");
    foreach (var (e, terms) in lastSsa.LossTermHistory.Select((t, i) => (i + 1, t)))
        sb.AppendLine($"- epoch {e}: " + string.Join(", ", terms.Select(kv => $"{kv.Key} {kv.Value:F3}")));
}
Console.WriteLine();
Console.WriteLine(sb.ToString());
File.WriteAllText(Path.Combine(outDir, "results.md"), sb.ToString());

// Overlays: image | ground truth | one column per head (first seed's models) for the first test scenes.
var palette = ClassPalette.Colours(FashionScenes.NumClasses);
float[] Overlay(float[] img, IReadOnlyList<int> cls) => ClassPalette.Overlay(img, cls, palette, 0.65f);
int shown = Math.Min(6, testCount);
var maps = keep.ToDictionary(kv => kv.Key, kv => ReadMaps(kv.Value.Transform(test), shown));
var cells = new List<(float[], int, int, int, string)>();
for (int i = 0; i < shown; i++)
{
    var s = testScenes.Generate(i);
    cells.Add((s.Image, 3, 64, 64, $"scene {i}"));
    cells.Add((Overlay(s.Image, s.Classes.Select(c => (int)c).ToArray()), 3, 64, 64, "ground truth"));
    foreach (var h in heads) cells.Add((Overlay(s.Image, maps[h][i]), 3, 64, 64, h.ToString()));
}
var png = Path.Combine(outDir, "overlays.png");
PngChart.SaveImageGrid(png, cells, columns: 2 + heads.Length, scale: 3, title: $"Fashion-MNIST scenes: ground truth, {string.Join(", ", heads)} (seed {seeds[0]})");
Console.WriteLine($"Wrote {png}, results.md and runs.csv to {outDir}");
foreach (var m in keep.Values) m.Dispose();

static List<int[]> ReadMaps(IDataView scored, int n)
{
    var list = new List<int[]>();
    using var cur = scored.GetRowCursor(new[] { scored.Schema["PredictedLabel"] });
    var get = cur.GetGetter<VBuffer<uint>>(scored.Schema["PredictedLabel"]);
    VBuffer<uint> buf = default;
    while (list.Count < n && cur.MoveNext()) { get(ref buf); list.Add(buf.DenseValues().Select(k => (int)k - 1).ToArray()); }
    return list;
}
return 0;

internal sealed record Run(SegmentationHeadKind Head, int Seed, SegmentationMetrics M, double? Val, double Seconds);

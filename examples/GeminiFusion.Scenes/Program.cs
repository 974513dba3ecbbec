// GeminiFusion on the note's multimodal Fashion-MNIST scenes (shared/methods/geminifusion.md §6): RGB is ambiguous
// (item-like background, low contrast, noise), depth gives clean masks but no class. Trains, for several seeds and one
// budget, RGB-only and depth-only models, add and concat fusion, GeminiFusion and its ablations; evaluates the three
// heads (RGB branch, depth branch, ensemble) with mmseg mIoU; reports missing depth at test time; saves and reloads a
// model; writes overlays (RGB, depth, ground truth, predictions, class legend), the per-layer mean weight on the cross
// key, a bar chart of the mIoU per variant (mean ± s.d.), results.md and runs.csv.
// Usage: dotnet run -c Release --project examples/GeminiFusion.Scenes -- [--train 400] [--test 100] [--epochs 3]
//        [--seeds 1,2,3] [--size 64] [--lr 1e-3] [--variants all|name,name] [--out DIR] [--merge DIR,DIR]
// --macs prints the parameters and MACs of the official MiT-B0…B5 GeminiFusion networks and exits.
// --merge combines the runs.csv of earlier runs (e.g. one process per seed) into one table and the plots, without training.
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions;
using MLNetExtensions.CommandLine;
using MLNetExtensions.Core.Plotting;
using MLNetExtensions.Estimators.GeminiFusion;
using MLNetExtensions.Evaluators.Segmentation;
using MLNetExtensions.Transforms.Datasets;
using MLNetExtensions.Transforms.Datasets.Scenes;
using MLNetExtensions.Transforms.GeminiFusion;
using TorchSharp;
using static TorchSharp.torch;
using static MLNetExtensions.CommandLine.CommandLineApp;

var inv = CultureInfo.InvariantCulture;
var trainO = Defaulted("--train", "Training scenes.", 400);
var testO = Defaulted("--test", "Test scenes.", 100);
var epochsO = Defaulted("--epochs", "Training epochs.", 3);
var seedsO = DefaultedList("--seeds", "Seeds (comma-separated).", 1, 2, 3);
var sizeO = Defaulted("--size", "Scene height and width in pixels.", 64);
var lrO = Defaulted("--lr", "Learning rate.", 1e-3);
var variantsO = Defaulted("--variants", "all, or variant names separated by commas (e.g. 'RGB only,GeminiFusion').", "all");
var outO = Defaulted("--out", "Output folder.", Path.Combine("examples", "GeminiFusion.Scenes", "out"));
var macsO = new Option<bool>("--macs") { Description = "Print parameters and MACs of the official variants (NYUDv2 480×640 and 1024×1024) and exit." };
var mergeO = Defaulted("--merge", "Comma-separated result folders whose runs.csv are combined into --out (no training).", "");
var root = new RootCommand("GeminiFusion on multimodal Fashion-MNIST scenes: single-modality, simple fusion, GeminiFusion and ablations. " + ExitCodesHelp)
    { trainO, testO, epochsO, seedsO, sizeO, lrO, variantsO, outO, mergeO, macsO };
if (CommandLineApp.Parse(root, args, out int exit) is not { } cli) return exit;
int trainCount = cli.GetValue(trainO), testCount = cli.GetValue(testO), epochs = cli.GetValue(epochsO);
int size = cli.GetValue(sizeO);
double lr = cli.GetValue(lrO);
var seeds = cli.GetValue(seedsO)!;
var mergeDirs = cli.GetValue(mergeO)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
foreach (var d in mergeDirs)
    if (!File.Exists(Path.Combine(d, "runs.csv"))) throw new UsageException($"--merge: '{d}' has no runs.csv.");
var outDir = Directory.CreateDirectory(cli.GetValue(outO)!).FullName;
torch.set_num_threads(1); // shared 2-core machine
if (cli.GetValue(macsO))
{
    PrintMacs();
    return 0;
}

var rgb = new GeminiFusionModality("Image", ModalityInputKind.RgbImage);
var depth = new GeminiFusionModality("Depth", ModalityInputKind.Map);
var all = new (string Name, GeminiFusionModality[] Mods, GeminiFusionAblation? Ablation)[]
{
    ("RGB only", new[] { rgb, rgb }, new(NoFusion: true)),
    ("depth only", new[] { depth, depth }, new(NoFusion: true)),
    ("add fusion", new[] { rgb, depth }, new(Simple: SimpleFusionKind.Add)),
    ("concat fusion", new[] { rgb, depth }, new(Simple: SimpleFusionKind.Concat)),
    ("GeminiFusion", new[] { rgb, depth }, null),
    ("noise fixed 0 (= removed)", new[] { rgb, depth }, new(NoiseFixedZero: true)),
    ("constant 1/C gate", new[] { rgb, depth }, new(ConstantRelation: true)),
    ("last stage only", new[] { rgb, depth }, new(FuseFromStage: 1)),
};
var wanted = cli.GetValue(variantsO) is string v && v != "all" ? v.Split(',').ToHashSet() : null;
var variants = all.Where(x => wanted == null || wanted.Contains(x.Name)).ToArray();
if (wanted?.Except(all.Select(x => x.Name)).FirstOrDefault() is string unknown)
    throw new UsageException($"--variants: no variant '{unknown}'; expected all or some of: {string.Join(", ", all.Select(x => x.Name))}.");

var ml = new MLContext(seed: 0).RegisterMLNetExtensions();
var trainOpts = FashionSceneOptions.Multimodal with { Count = trainCount, Seed = 1, Height = size, Width = size, MinItemSize = size * 5 / 16, MaxItemSize = size * 5 / 8, SourceRows = 5000 };
var testOpts = trainOpts with { Count = testCount, Seed = 2, Split = FashionMnistSplit.Test, SourceRows = 2000 };
var train = ml.Data.Cache(FashionScenes.Load(ml, trainOpts));
var test = ml.Data.Cache(FashionScenes.Load(ml, testOpts));
var noDepth = ml.Transforms.DropColumns("Depth").Fit(test).Transform(test);
Console.WriteLine($"GeminiFusion scenes: {trainCount} train / {testCount} test scenes {size}×{size}, MiT 'small' (32/64, depths 2/2), {epochs} epochs, batch 16, lr {lr}, seeds {string.Join(",", seeds)}");

var runs = new List<(string Variant, int Seed, double Ens, double B0, double B1, double NoDepthEns, double NoDepthRgb, double Seconds, double[] CrossWeight, double[] NoiseNorm)>();
GeminiFusionTransformer? keep = null;
var csv = new StringBuilder("variant,seed,miou_ensemble,miou_branch0,miou_branch1,miou_ensemble_no_depth,miou_rgb_branch_no_depth,train_seconds,cross_key_weight,k_noise_norm\n");
string Joined(double[] xs) => string.Join(";", xs.Select(x => x.ToString("F4", inv)));
double[] Split(string cell) => cell.Length == 0 ? [] : cell.Split(';').Select(x => double.Parse(x, inv)).ToArray();
foreach (var dir in mergeDirs)
    foreach (var line in File.ReadLines(Path.Combine(dir, "runs.csv")).Skip(1).Where(l => l.Length > 0))
    {
        var f = line.Split(',');
        double D(int i) => double.Parse(f[i], inv);
        runs.Add((f[0], int.Parse(f[1], inv), D(2), D(3), D(4), D(5), D(6), D(7), f.Length > 8 ? Split(f[8]) : [], f.Length > 9 ? Split(f[9]) : []));
        csv.AppendLine(line);
    }
if (mergeDirs.Length > 0)
{
    variants = variants.Where(x => runs.Any(r => r.Variant == x.Name)).ToArray();
    seeds = runs.Select(r => r.Seed).Distinct().Order().ToArray();
    File.WriteAllText(Path.Combine(outDir, "runs.csv"), csv.ToString());
}
foreach (var seed in mergeDirs.Length > 0 ? Array.Empty<int>() : seeds)
    foreach (var (name, mods, ablation) in variants)
    {
        bool fused = ablation?.NoFusion != true;
        var o = new GeminiFusionSegmenter.Options
        {
            Modalities = mods, Ablation = ablation, Backbone = MitConfig.Small, EmbeddingDim = 64, BranchOutputs = fused,
            MaxEpochs = epochs, BatchSize = 16, LearningRate = lr, Seed = seed, LogEveryNSteps = 5,
            Progress = new MLNetExtensions.Core.Training.ConsoleTrainingProgress($"{name} seed {seed}", epochs),
        };
        var sw = Stopwatch.StartNew();
        var model = ml.Segmentation().Trainers.GeminiFusion(o).Fit(train);
        double secs = sw.Elapsed.TotalSeconds;
        var scored = model.Transform(test);
        double M(IDataView d, string col) => 100 * ml.Segmentation().Evaluate(d, "Mask", col).MeanIoU;
        double ens = M(scored, "PredictedLabel");
        double b0 = fused ? M(scored, "PredictedLabel.Image") : ens, b1 = fused ? M(scored, "PredictedLabel.Depth") : ens;
        double nd = double.NaN, ndRgb = double.NaN;
        if (fused)
        {
            model.MissingModality = MissingModalityPolicy.Zeros;
            var s2 = model.Transform(noDepth);
            nd = M(s2, "PredictedLabel"); ndRgb = M(s2, "PredictedLabel.Image");
            model.MissingModality = MissingModalityPolicy.Error;
        }
        var (cw, nn) = fused ? LayerStats(model, test) : (Array.Empty<double>(), Array.Empty<double>());
        runs.Add((name, seed, ens, b0, b1, nd, ndRgb, secs, cw, nn));
        csv.AppendLine(string.Create(inv, $"{name},{seed},{ens:F3},{b0:F3},{b1:F3},{nd:F3},{ndRgb:F3},{secs:F1},{Joined(cw)},{Joined(nn)}"));
        File.WriteAllText(Path.Combine(outDir, "runs.csv"), csv.ToString());
        Console.WriteLine(string.Create(inv, $"[seed {seed}] {name,-26} mIoU ensemble {ens:F2}  RGB branch {b0:F2}  depth branch {b1:F2}  no-depth ensemble {nd:F2}  ({secs:F0} s)"));
        if (name == "GeminiFusion" && keep == null) keep = model; else model.Dispose();
    }

// Results table: mean ± s.d. over seeds, the three heads separately.
(double Mean, double Sd) MeanSd(IEnumerable<double> xs)
{
    var a = xs.Where(x => !double.IsNaN(x)).ToArray();
    if (a.Length == 0) return (double.NaN, double.NaN);
    double m = a.Average();
    return (m, a.Length > 1 ? Math.Sqrt(a.Sum(x => (x - m) * (x - m)) / (a.Length - 1)) : 0);
}
string Pm(IEnumerable<double> xs) => MeanSd(xs) is var (m, sd) && !double.IsNaN(m) ? string.Create(inv, $"{m:F2} ± {sd:F2}") : "–";
var sb = new StringBuilder();
sb.AppendLine($"GeminiFusion scenes ({trainCount} train / {testCount} test, {size}×{size}, MiT small, {epochs} epochs, batch 16, lr {lr.ToString(inv)}, seeds {string.Join(", ", seeds)}; mIoU %, mean ± s.d.)");
sb.AppendLine();
sb.AppendLine("| model | ensemble | RGB branch | depth branch | ensemble, depth = 0 | RGB branch, depth = 0 | train s |");
sb.AppendLine("|---|---|---|---|---|---|---|");
foreach (var (name, _, _) in variants)
{
    var r = runs.Where(x => x.Variant == name).ToList();
    sb.AppendLine($"| {name} | {Pm(r.Select(x => x.Ens))} | {Pm(r.Select(x => x.B0))} | {Pm(r.Select(x => x.B1))} | {Pm(r.Select(x => x.NoDepthEns))} | {Pm(r.Select(x => x.NoDepthRgb))} | {Pm(r.Select(x => x.Seconds))} |");
}
sb.AppendLine();
sb.AppendLine("(Unimodal rows: both streams read the same column without fusion, so their three heads coincide.)");
foreach (var name in new[] { "GeminiFusion", "noise fixed 0 (= removed)", "constant 1/C gate" })
{
    var r = runs.Where(x => x.Variant == name && x.CrossWeight.Length > 0).ToList();
    if (r.Count == 0) continue;
    int layers = r[0].CrossWeight.Length;
    sb.AppendLine();
    sb.AppendLine($"{name}: mean attention weight on the cross key per layer (both directions; mean ± s.d. over seeds): " +
        string.Join(", ", Enumerable.Range(0, layers).Select(l => $"L{l + 1} {Pm(r.Select(x => x.CrossWeight[l]))}")));
    sb.AppendLine($"{name}: ‖ε_k‖ per layer (mean over the two rows): " + string.Join(", ", Enumerable.Range(0, layers).Select(l => $"L{l + 1} {Pm(r.Select(x => x.NoiseNorm[l]))}")));
}
Console.WriteLine();
Console.WriteLine(sb.ToString());
File.WriteAllText(Path.Combine(outDir, "results.md"), sb.ToString());

// Per-layer cross-key weight plot (GeminiFusion and its ablations, mean over seeds).
var chart = new PngChart { Title = "Mean attention weight on the cross key per layer", XLabel = "layer (network order)", YLabel = "weight on cross key" };
foreach (var name in new[] { "GeminiFusion", "noise fixed 0 (= removed)", "constant 1/C gate" })
{
    var r = runs.Where(x => x.Variant == name && x.CrossWeight.Length > 0).ToList();
    if (r.Count == 0) continue;
    int layers = r[0].CrossWeight.Length;
    var mean = Enumerable.Range(0, layers).Select(l => r.Average(x => x.CrossWeight[l])).ToArray();
    var sdv = Enumerable.Range(0, layers).Select(l => r.Count > 1 ? Math.Sqrt(r.Sum(x => Math.Pow(x.CrossWeight[l] - mean[l], 2)) / (r.Count - 1)) : 0).ToArray();
    chart.AddErrorBars(name, Enumerable.Range(1, layers).Select(i => (double)i), mean, sdv);
}
chart.Save(Path.Combine(outDir, "cross_key_weight_per_layer.png"));

// mIoU per variant and head (mean ± s.d. over seeds); the unimodal models' heads coincide, so only their ensemble is drawn.
var bars = new PngBarChart(variants.Select(x => x.Name)) { Title = $"mIoU on the test scenes (mean ± s.d. over seeds {string.Join(", ", seeds)})", YLabel = "mIoU %" };
foreach (var (head, pick, fusedOnly) in new (string, Func<(string Variant, int Seed, double Ens, double B0, double B1, double NoDepthEns, double NoDepthRgb, double Seconds, double[] CrossWeight, double[] NoiseNorm), double>, bool)[]
{
    ("ensemble", r => r.Ens, false), ("RGB branch", r => r.B0, true), ("depth branch", r => r.B1, true), ("ensemble, depth = 0", r => r.NoDepthEns, true),
})
{
    var stats = variants.Select(x => x.Ablation?.NoFusion == true && fusedOnly ? (Mean: double.NaN, Sd: double.NaN) : MeanSd(runs.Where(r => r.Variant == x.Name).Select(pick))).ToArray();
    bars.AddGroup(head, stats.Select(t => t.Mean), stats.Select(t => t.Sd));
}
bars.Save(Path.Combine(outDir, "miou_per_variant.png"), width: 1100);

if (keep != null)
{
    // Save, reload, compare; then overlays from the reloaded model.
    var zip = Path.Combine(outDir, "geminifusion-scenes.zip");
    ml.Model.Save(keep, test.Schema, zip);
    using var reloaded = (GeminiFusionTransformer)ml.Model.Load(zip, out _);
    var s1 = keep.Transform(test).GetColumn<VBuffer<float>>("Score").Take(4).SelectMany(b => b.DenseValues()).ToArray();
    var s2 = reloaded.Transform(test).GetColumn<VBuffer<float>>("Score").Take(4).SelectMany(b => b.DenseValues()).ToArray();
    Console.WriteLine($"Saved {zip}; reloaded scores differ by at most {s1.Zip(s2).Max(p => Math.Abs(p.First - p.Second)):E2}");
    Overlays(reloaded, test, FashionScenes.Create(ml, testOpts), size, Path.Combine(outDir, "overlays.png"));
    keep.Dispose();
}
Console.WriteLine($"Wrote results.md, runs.csv, miou_per_variant.png, cross_key_weight_per_layer.png{(keep != null ? ", overlays.png" : "")} to {outDir}");

// Per fusion layer: mean weight on the cross key over test tokens (both directions) and ‖ε_k‖ (mean of its rows).
static (double[] Cross, double[] Noise) LayerStats(GeminiFusionTransformer model, IDataView test)
{
    var net = model.Network;
    var img = test.GetColumn<VBuffer<float>>("Image").Take(16).SelectMany(b => b.DenseValues()).ToArray();
    var dep = test.GetColumn<VBuffer<float>>("Depth").Take(16).SelectMany(b => b.DenseValues()).ToArray();
    int n = Math.Min(16, (int)(test.GetRowCount() ?? 16));
    int side = (int)Math.Sqrt(dep.Length / n);
    using var scope = torch.NewDisposeScope();
    using var mode = torch.inference_mode();
    var mean = tensor(new[] { 0.485f, 0.456f, 0.406f }).view(1, 3, 1, 1); var std = tensor(new[] { 0.229f, 0.224f, 0.225f }).view(1, 3, 1, 1);
    var x0 = (tensor(img).view(n, 3, side, side) - mean) / std;
    var x1 = tensor(dep).view(n, 1, side, side).expand(n, 3, side, side).contiguous();
    var traces = net.Encoder.FusionTraces(new[] { x0, x1 });
    var cross = traces.Select(t => t.AttentionWeights.Length == 0 ? double.NaN
        : t.AttentionWeights.Select(w => w.select(2, 1).mean().item<float>()).Average()).ToArray();
    var noise = net.Encoder.FusionLayers.Select(f => f.KeyNoise.weight!.square().sum(1).sqrt().mean().item<float>()).Select(v => (double)v).ToArray();
    return (cross, noise);
}

// Parameters and MACs of the official variants (batch 1, two modalities, 256-d head, 40 classes), counted on META.
static void PrintMacs()
{
    var inv = CultureInfo.InvariantCulture;
    Console.WriteLine("| variant | input | parameters (M) | fusion parameters (M) | GMACs total | dual-stream blocks | fusion | fusion / blocks | patch embeddings | decoder (both branches) |");
    Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
    foreach (var (h, w) in new[] { (480, 640), (1024, 1024) })
        foreach (var c in MitConfig.Official)
        {
            var r = GeminiFusionCost.Measure(c, h, w);
            Console.WriteLine(string.Create(inv,
                $"| {c.Name} | {h}×{w} | {r.Parameters / 1e6:F2} | {r.FusionParameters / 1e6:F2} | {r.Macs / 1e9:F2} | {r.BlockMacs / 1e9:F2} | {r.FusionMacs / 1e9:F2} | +{100.0 * r.FusionMacs / r.BlockMacs:F0} % | {r.PatchEmbedMacs / 1e9:F2} | {r.DecoderMacs / 1e9:F2} |"));
        }
}

static void Overlays(GeminiFusionTransformer model, IDataView test, FashionScenes scenes, int size, string path)
{
    int shown = 6, plane = size * size;
    var palette = ClassPalette.Colours(FashionScenes.NumClasses);
    float[] Overlay(float[] img, IReadOnlyList<int> cls) => ClassPalette.Overlay(img, cls, palette, 0.7f);
    var scored = model.Transform(test);
    List<int[]> Maps(string col) => scored.GetColumn<VBuffer<uint>>(col).Take(shown).Select(b => b.DenseValues().Select(k => (int)k - 1).ToArray()).ToList();
    var ens = Maps("PredictedLabel"); var b0 = Maps("PredictedLabel.Image"); var b1 = Maps("PredictedLabel.Depth");
    var cells = new List<(float[], int, int, int, string)>();
    for (int i = 0; i < shown; i++)
    {
        var s = scenes.Generate(i);
        var d = s.Depth.Select(v => Math.Clamp((1f - v) / 0.8f, 0f, 1f)).ToArray(); // near = bright
        cells.Add((s.Image, 3, size, size, $"RGB {i}"));
        cells.Add((d, 1, size, size, "depth"));
        cells.Add((Overlay(s.Image, s.Classes.Select(c => (int)c).ToArray()), 3, size, size, "ground truth"));
        cells.Add((Overlay(s.Image, b0[i]), 3, size, size, "RGB branch"));
        cells.Add((Overlay(s.Image, b1[i]), 3, size, size, "depth branch"));
        cells.Add((Overlay(s.Image, ens[i]), 3, size, size, "ensemble"));
    }
    // Class legend: one swatch per class.
    for (int c = 0; c < FashionScenes.NumClasses; c++)
    {
        var sw = new float[3 * plane];
        for (int p = 0; p < plane; p++) for (int j = 0; j < 3; j++) sw[j * plane + p] = c == 0 ? 0.15f : palette[c, j];
        cells.Add((sw, 3, size, size, FashionScenes.ClassNames[c]));
    }
    PngChart.SaveImageGrid(path, cells, columns: 6, scale: 2, title: "GeminiFusion on ambiguous-RGB + depth scenes (legend: last rows)");
}
return 0;

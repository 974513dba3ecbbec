// FuSTAL on the note's synthetic untrimmed features (fustal.md §9): teacher → pseudo-label selection → student with EMA
// distillation, with the ablations of issue 16. One process per seed (`run <seed>`) writes out/seed<N>.json; `report`
// aggregates them into out/results.md (mean ± s.d.). Model selection (γ) uses the validation split only.
// `video <seed>` runs the same on untrimmed mp4 videos of real Fashion-MNIST items (UntrimmedMotionVideos: background
// stretches and direction-of-motion actions at known intervals), featurised from the files by LoadVideoFrames + a
// frozen SqueezeTime tiny backbone (FeaturizeSnippets) trained once on moving Fashion-MNIST clips; set
// FASHION_MNIST_DIR for the full data set.
using System.CommandLine;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions;
using MLNetExtensions.CommandLine;
using MLNetExtensions.Core.Plotting;
using MLNetExtensions.Core.Tuning;
using MLNetExtensions.Estimators.Fustal;
using MLNetExtensions.Evaluators.TemporalLocalization;
using MLNetExtensions.Transforms.Datasets;
using MLNetExtensions.Transforms.Fustal;
using TorchSharp;
using static MLNetExtensions.CommandLine.CommandLineApp;

var modeA = new Argument<string>("mode") { Description = "run: one seed's runs on synthetic features → $FUSTAL_OUT/seed<N>.json; video: the same on mp4 videos of real Fashion-MNIST items; report: aggregate them into results.md.", DefaultValueFactory = _ => "run" }
    .AcceptOnlyFromAmong("run", "video", "report");
var seedA = new Argument<int>("seed") { Description = "The seed of a run.", DefaultValueFactory = _ => 1 };
var root = new RootCommand("FuSTAL on synthetic untrimmed features: teacher, pseudo-label selection, EMA student, ablations. " +
    "Environment: FUSTAL_OUT (output folder, default out), FUSTAL_EPOCH_SCALE (epoch multiplier, default 1). " + ExitCodesHelp) { modeA, seedA };
if (CommandLineApp.Parse(root, args, out int exit) is not { } cli) return exit;
var mode = cli.GetValue(modeA)!;
var outDir = Environment.GetEnvironmentVariable("FUSTAL_OUT") ?? "out";
Directory.CreateDirectory(outDir);
double scale = double.TryParse(Environment.GetEnvironmentVariable("FUSTAL_EPOCH_SCALE"), System.Globalization.CultureInfo.InvariantCulture, out var es) ? es : 1.0;
if (mode == "report") { Report.Write(outDir); return 0; }
int seed = cli.GetValue(seedA);
torch.set_num_threads(1);
var clock = System.Diagnostics.Stopwatch.StartNew();
void Log(string s) => Console.WriteLine($"[seed {seed} {clock.Elapsed:mm\\:ss}] {s}");

var ml = new MLContext(seed: seed).RegisterMLNetExtensions();
var src = mode == "video" ? MotionVideoSource.Build(ml, outDir, scale, Log) : SyntheticSource.Build(ml, seed);
var (train, valid, test) = (src.Train, src.Valid, src.Test);
var results = new Dictionary<string, object>();

FustalTeacherTransformer Teacher(double crossVideo)
{
    var o = TeacherOptions(crossVideo);
    var t0 = clock.Elapsed;
    var model = ml.TemporalLocalization().Trainers.FustalTeacher(o).Fit(train);
    long steps = o.MaxEpochs * ((src.TrainCount + o.BatchSize - 1) / o.BatchSize);
    results[$"bench.teacher_train_snippets_per_s.cv{crossVideo}"] = steps * o.BatchSize * o.SampledLength / (clock.Elapsed - t0).TotalSeconds;
    return model;
}

FustalTeacher.Options TeacherOptions(double crossVideo) => new()
{
    FeatureSize = src.FeatureDim, SampledLength = src.SampledLength, RHard = src.RHard, EmbedDim = 128, MaxSnippets = src.MaxSnippets, BatchSize = 16,
    MaxEpochs = Math.Max(1, (int)(20 * scale)), LearningRate = 1e-3, CrossVideoWeight = crossVideo, Seed = seed, LogEveryNSteps = 0, Proposals = src.Proposals(),
};
// One pass with copies (ProposalColumns): GetColumn<VBuffer<T>>().ToList() shares one buffer across rows.
Dictionary<string, IReadOnlyList<TemporalProposal>> Segments(IDataView scored, string prefix) => ProposalColumns.Read(scored, prefix);
double[] Maps(TemporalDetectionMetrics m) => m.Thresholds.Select(m.MeanAveragePrecisionAt).Append(m.AverageMeanAveragePrecision).ToArray();

// ---- teachers (cross-video contrast on / off) ------------------------------------------------------------------
var teachers = new Dictionary<string, FustalTeacherTransformer> { ["cv"] = Teacher(0.2), ["nocv"] = Teacher(0) };
foreach (var (name, t) in teachers)
{
    var t0 = clock.Elapsed;
    var scoredTest = t.Transform(test);
    var m = ml.TemporalLocalization().Evaluate(scoredTest);
    results[$"bench.teacher_infer_snippets_per_s.{name}"] = src.TestSnippets / (clock.Elapsed - t0).TotalSeconds;
    results[$"map.teacher.{name}"] = Maps(m);
    var scores = scoredTest.GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToList();
    results[$"video_accuracy.teacher.{name}"] = src.TestLabels.Select((labels, i) => Enumerable.Range(0, src.NumClasses).All(k => (scores[i][k] >= 0.2f) == labels.Contains(k)) ? 1.0 : 0.0).Average();
    Log($"teacher {name}: {m}");
}
// Label-shuffle control (synthetic features only).
if (src.TrainShuffled is { } shuffledTrain)
using (var shuffled = ml.TemporalLocalization().Trainers.FustalTeacher(TeacherOptions(0.2)).Fit(shuffledTrain))
{
    var m = ml.TemporalLocalization().Evaluate(shuffled.Transform(test));
    results["map.teacher.shuffled"] = Maps(m);
    Log($"teacher shuffled labels: {m}");
}

// ---- γ sweep through mlContext.Sweeps() on the VALIDATION split (pseudo-label F1 at IoU 0.5 against its GT) ----
var validProposals = teachers["cv"].Transform(valid);
var sweeps = ml.Sweeps();
var space = sweeps.SearchSpace<GammaTrial>().Values(o => o.Gamma, new[] { 0.0, 0.1, 0.2, 0.5, 1.0 });
var sweep = sweeps.Create(() => new GammaTrial(), space, sweeps.GridSearch(), (o, trial, ct) =>
{
    var sel = ml.TemporalLocalization().Transforms.SelectPseudoLabels(o.Gamma, 0.4).Fit(validProposals).Transform(validProposals);
    var q = PseudoLabelQuality.Measure(src.ValidTruth, Segments(sel, "Pseudo"));
    results[$"gamma_sweep.valid.{o.Gamma}"] = new[] { q.Precision, q.Recall, q.MeanBestIoU, q.SegmentsPerVideo };
    return q.Precision + q.Recall == 0 ? 0 : 2 * q.Precision * q.Recall / (q.Precision + q.Recall);
});
sweep.Maximize = true; sweep.MetricName = "pseudo_f1_valid"; sweep.SeedsPerTrial = 1;
var sweepResult = sweep.Run(CancellationToken.None);
double gammaBest = (double)sweepResult.Best!.Parameters.Items.First().Value!;
results["gamma_selected"] = gammaBest;
Log($"γ sweep (validation F1): best γ = {gammaBest}\n{sweepResult.ToMarkdownTable()}");

// ---- pseudo labels on the training split: quality per selection variant ------------------------------------------
var trainTruth = src.TrainTruth;
var variants = new Dictionary<string, (string Teacher, double Gamma, double Eta)>
{
    ["full"] = ("cv", gammaBest, 0.4), ["nocv"] = ("nocv", gammaBest, 0.4), ["confidence_only"] = ("cv", 0, 0.4),
    ["no_filter"] = ("cv", 0, double.NegativeInfinity), ["none"] = ("nocv", 0, double.NegativeInfinity),
};
var pseudo = new Dictionary<string, IDataView>();
foreach (var (name, (teacher, gamma, eta)) in variants)
{
    var proposals = ml.Data.Cache(teachers[teacher].Transform(train));
    var sel = ml.Data.Cache(ml.TemporalLocalization().Transforms.SelectPseudoLabels(new PseudoLabelSelectionOptions { Gamma = gamma, Eta = eta })
        .Fit(proposals).Transform(proposals));
    var q = PseudoLabelQuality.Measure(trainTruth, Segments(sel, "Pseudo"), Segments(proposals, "Segment"));
    results[$"pseudo.{name}"] = new[] { q.Precision, q.Recall, q.MeanBestIoU, q.SegmentsPerVideo, q.SegmentsPerInstance, q.DensityAuc };
    Log($"pseudo labels {name}: {q}");
    pseudo[name] = sel;
}
pseudo["oracle"] = ml.Data.Cache(ml.Transforms.CopyColumns("PseudoStart", "GroundTruthStart").Append(ml.Transforms.CopyColumns("PseudoEnd", "GroundTruthEnd"))
    .Append(ml.Transforms.CopyColumns("PseudoLabel", "GroundTruthLabel")).Fit(train).Transform(train));

// ---- students ----------------------------------------------------------------------------------------------------
var grid = src.Grid;
var students = new (string Name, string Targets, bool Ema)[]
{
    ("full", "full", true), ("no_cross_video", "nocv", true), ("confidence_only", "confidence_only", true), ("no_filter", "no_filter", true),
    ("no_ema", "full", false), ("none", "none", false), ("oracle_gt", "oracle", true),
};
FustalStudentTransformer? fullStudent = null;
foreach (var (name, targets, ema) in students)
{
    int epochs = Math.Max(2, (int)(15 * scale));
    var o = new FustalStudent.Options
    {
        FeatureSize = src.FeatureDim, MaxSnippets = src.MaxSnippets, MaxSegments = 512, BatchSize = 8, MaxEpochs = epochs, EmaSwitchEpoch = (int)(0.6 * epochs),
        EmaDistillation = ema, EmaDecay = 0.99, LearningRate = 1e-3, Seed = seed, LogEveryNSteps = 0, Grid = grid,
        Network = new TriDetConfig(EmbedDim: 64, MlpDim: 96, NumLevels: 4, StemBlocks: 1, NumBins: 8, HeadDim: 64, HeadLayers: 1),
    };
    var t0 = clock.Elapsed;
    var model = ml.TemporalLocalization().Trainers.FustalStudent(o).Fit(pseudo[targets]);
    results[$"bench.student_train_snippets_per_s.{name}"] = src.TrainSnippets * (double)epochs / (clock.Elapsed - t0).TotalSeconds;
    t0 = clock.Elapsed;
    var scored = ml.Data.Cache(model.Transform(test));
    var m = ml.TemporalLocalization().Evaluate(scored);
    results[$"bench.student_infer_snippets_per_s.{name}"] = src.TestSnippets / (clock.Elapsed - t0).TotalSeconds;
    results[$"map.student.{name}"] = Maps(m);
    // Fragmentation: predicted segments (score ≥ 0.1) of an instance's class overlapping it, per covered GT instance.
    var q = PseudoLabelQuality.Measure(src.TestTruth, Segments(scored, "Segment").ToDictionary(kv => kv.Key, kv => (IReadOnlyList<TemporalProposal>)kv.Value.Where(s => s.Score >= 0.1).ToList()));
    results[$"fragmentation.student.{name}"] = q.SegmentsPerInstance;
    Log($"student {name}: {m}  segments/instance {q.SegmentsPerInstance:0.00}");
    if (name == "full") fullStudent = model; else model.Dispose();
}
{
    var q = PseudoLabelQuality.Measure(src.TestTruth, Segments(teachers["cv"].Transform(test), "Segment").ToDictionary(kv => kv.Key, kv => (IReadOnlyList<TemporalProposal>)kv.Value.Where(s => s.Score >= 0.1).ToList()));
    results["fragmentation.teacher.cv"] = q.SegmentsPerInstance;
}

// ---- timelines (first seed only): GT, teacher, pseudo labels (selection on the test proposals), student -----------
if (seed == 1 && fullStudent != null)
{
    var tl = Path.Combine(outDir, "timelines");
    Directory.CreateDirectory(tl);
    var teacherTest = teachers["cv"].Transform(test);
    var tp = Segments(teacherTest, "Segment");
    var pp = Segments(ml.TemporalLocalization().Transforms.SelectPseudoLabels(gammaBest, 0.4).Fit(teacherTest).Transform(teacherTest), "Pseudo");
    var sp = Segments(fullStudent.Transform(test), "Segment");
    var truth = src.TestTruth;
    foreach (var (id, dur) in src.TestDurations.Take(12))
    {
        var chart = new PngChart { Title = $"{id}: 3 ground truth, 2 teacher (score ≥ 0.3), 1 pseudo labels, 0 student (score ≥ 0.3)", XLabel = "seconds", YLabel = "track" };
        var tracks = new (double Y, IEnumerable<(int Cls, double S, double E)> Segs)[]
        {
            (3, truth[id].Select(g => (g.ClassIndex, g.Start, g.End))),
            (2, tp[id].Where(p => p.Score >= 0.3).Select(p => (p.ClassIndex, p.Start, p.End))),
            (1, pp[id].Select(p => (p.ClassIndex, p.Start, p.End))),
            (0, sp[id].Where(p => p.Score >= 0.3).Select(p => (p.ClassIndex, p.Start, p.End))),
        };
        // One scatter series per class (series order = palette order, so a class has the same colour in every file):
        // a segment is a row of dots at its track's height, overlapping segments of a track stacked slightly.
        var segs = tracks.SelectMany(t => t.Segs.Select((x, i) => (t.Y, x.Cls, x.S, x.E, i))).ToList();
        for (int c = 0; c < src.NumClasses; c++)
        {
            var pts = segs.Where(x => x.Cls == c).SelectMany(x => Enumerable.Range(0, 1 + (int)((x.E - x.S) / (dur / 250)))
                .Select(k => (X: x.S + k * dur / 250, Y: x.Y + 0.06 * (x.i % 4)))).ToList();
            chart.AddScatter($"class {src.ClassNames[c]}", pts.Select(q => q.X).DefaultIfEmpty(0), pts.Select(q => q.Y).DefaultIfEmpty(-0.3));
        }
        chart.AddLine("video extent", new[] { 0.0, dur }, new[] { -0.3, -0.3 });
        chart.Save(Path.Combine(tl, id + ".png"), 1000, 380);
    }
}
fullStudent?.Dispose();
foreach (var t in teachers.Values) t.Dispose();
results["seconds"] = clock.Elapsed.TotalSeconds;
File.WriteAllText(Path.Combine(outDir, $"seed{seed}.json"), JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
Log("done");
return 0;

/// <summary>The γ sweep's options (ISweepableOptions so the sweep sets the seed).</summary>
public sealed class GammaTrial : ISweepableOptions
{
    /// <summary>γ.</summary>
    public double Gamma { get; set; } = 0.2;
    /// <inheritdoc/>
    public int? Seed { get; set; }
    /// <inheritdoc/>
    public CancellationToken CancellationToken { get; set; }
}

/// <summary>Aggregates out/seed*.json into out/results.md.</summary>
internal static class Report
{
    public static void Write(string dir)
    {
        var runs = Directory.GetFiles(dir, "seed*.json").OrderBy(f => f).Select(f => JsonDocument.Parse(File.ReadAllText(f)).RootElement).ToList();
        if (runs.Count == 0) { Console.WriteLine("no seed*.json"); return; }
        var keys = runs.SelectMany(r => r.EnumerateObject().Select(p => p.Name)).Distinct().ToList();
        double[] Values(JsonElement e) => e.ValueKind == JsonValueKind.Array ? e.EnumerateArray().Select(x => x.GetDouble()).ToArray() : new[] { e.GetDouble() };
        string Cell(string key, int i)
        {
            var v = runs.Where(r => r.TryGetProperty(key, out _)).Select(r => Values(r.GetProperty(key))[i]).ToArray();
            if (v.Length == 0) return "–";
            double mean = v.Average(), sd = v.Length > 1 ? Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1)) : 0;
            return $"{mean:0.000} ± {sd:0.000}";
        }
        var w = new System.Text.StringBuilder();
        w.AppendLine($"# FuSTAL on synthetic features — {runs.Count} seed(s): {string.Join(", ", Directory.GetFiles(dir, "seed*.json").Select(Path.GetFileNameWithoutExtension).OrderBy(x => x))}\n");
        w.AppendLine("| model | mAP@0.1 | @0.2 | @0.3 | @0.4 | @0.5 | @0.6 | @0.7 | avg |\n|---|---|---|---|---|---|---|---|---|");
        foreach (var k in keys.Where(k => k.StartsWith("map.")))
            w.AppendLine($"| {k[4..]} | {string.Join(" | ", Enumerable.Range(0, 8).Select(i => Cell(k, i)))} |");
        w.AppendLine("\n| pseudo labels (train) | precision@0.5 | recall@0.5 | mean best IoU | segments/video | segments/instance | density AUC |\n|---|---|---|---|---|---|---|");
        foreach (var k in keys.Where(k => k.StartsWith("pseudo.")))
            w.AppendLine($"| {k[7..]} | {string.Join(" | ", Enumerable.Range(0, 6).Select(i => Cell(k, i)))} |");
        w.AppendLine("\n| γ (validation) | precision@0.5 | recall@0.5 | mean best IoU | segments/video |\n|---|---|---|---|---|");
        foreach (var k in keys.Where(k => k.StartsWith("gamma_sweep.")))
            w.AppendLine($"| {k["gamma_sweep.valid.".Length..]} | {string.Join(" | ", Enumerable.Range(0, 4).Select(i => Cell(k, i)))} |");
        w.AppendLine("\n| other | value |\n|---|---|");
        foreach (var k in keys.Where(k => !k.StartsWith("map.") && !k.StartsWith("pseudo.") && !k.StartsWith("gamma_sweep.")))
            w.AppendLine($"| {k} | {Cell(k, 0)} |");
        File.WriteAllText(Path.Combine(dir, "results.md"), w.ToString());
        Console.WriteLine(w.ToString());
    }
}

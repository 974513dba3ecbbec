// Align-KD on the 2×2 Fashion-MNIST scenes VQA (note §5): a frozen conv tower, a teacher MiniVlm (d 64, 3 layers,
// 4 heads) trained on fresh scenes, and students (d 32, 2 layers, 4 heads) trained on a fixed small set under the
// note's §5.3 objectives with paired seeds (same student init and data order per seed across variants).
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.ML;
using MLNetExtensions.CommandLine;
using MLNetExtensions.Core.Plotting;
using MLNetExtensions.Core.Text;
using MLNetExtensions.Transforms.AlignKd;
using MLNetExtensions.Transforms.Datasets;
using MLNetExtensions.Transforms.VisionLanguage;
using TorchSharp;
using static TorchSharp.torch;
using static MLNetExtensions.CommandLine.CommandLineApp;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
var seedsO = Defaulted("--seeds", "Paired student seeds.", 5);
var towerStepsO = Defaulted("--tower-steps", "Vision-tower pre-training steps (× 128).", 600);
var teacherStepsO = Defaulted("--teacher-steps", "Teacher training steps (× 128).", 2500);
var studentStepsO = Defaulted("--student-steps", "Student training steps (× 64).", 1200);
var studentExamplesO = Defaulted("--student-examples", "Fixed student training examples.", 1500);
var testExamplesO = Defaulted("--test-examples", "Test examples.", 3000);
var studentSourceRowsO = Defaulted("--student-source-rows", "Fashion-MNIST rows the student scenes are drawn from.", 2000);
var outO = Defaulted("--out", "Output folder (cached tower/teacher, results.md, PNGs).", "alignkd-out");
var variantsO = Defaulted("--variants", "Student variants by index, comma-separated (empty = all).", "");
var root = new RootCommand("Align-KD on the 2×2 Fashion-MNIST scenes VQA: teacher, then students under each objective with paired seeds. " + ExitCodesHelp)
    { seedsO, towerStepsO, teacherStepsO, studentStepsO, studentExamplesO, testExamplesO, studentSourceRowsO, outO, variantsO };
if (CommandLineApp.Parse(root, args, out int exit) is not { } cli) return exit;
int seeds = cli.GetValue(seedsO), towerSteps = cli.GetValue(towerStepsO), teacherSteps = cli.GetValue(teacherStepsO);
int studentSteps = cli.GetValue(studentStepsO), studentExamples = cli.GetValue(studentExamplesO), testExamples = cli.GetValue(testExamplesO);
int studentSourceRows = cli.GetValue(studentSourceRowsO);
string outDir = cli.GetValue(outO)!;
torch.set_num_threads(1);
Directory.CreateDirectory(outDir);
var clock = Stopwatch.StartNew();
void Log(string s) { Console.WriteLine($"[{clock.Elapsed:hh\\:mm\\:ss}] {s}"); }

var ml = new MLContext(0);
var (trainPx, trainLab) = FashionSceneVqa.ReadSource(ml, FashionMnistSplit.Train);
var (testPx, testLab) = FashionSceneVqa.ReadSource(ml, FashionMnistSplit.Test);
Log($"Fashion-MNIST: {trainLab.Length} train / {testLab.Length} test images ({(FashionMnist.FullDataAvailable ? "full" : "embedded subset")})");
var tok = VqaEncoding.SceneTokenizer();
int vocab = tok.VocabularySize;

// ---- 1. vision tower: pre-trained as a classifier, then frozen --------------------------------------------------
string towerPath = Path.Combine(outDir, $"tower-{towerSteps}.bin"), teacherPath = Path.Combine(outDir, $"teacher-{towerSteps}-{teacherSteps}.bin");
ConvVisionTower tower;
if (File.Exists(towerPath)) { tower = new ConvVisionTower(); tower.load(towerPath); tower.eval(); }
else { tower = VisionTowerPretraining.Train(trainPx, trainLab, towerSteps, seed: 0); tower.save(towerPath); }
Log($"vision tower: {towerSteps} steps × 128, test item accuracy {VisionTowerPretraining.Accuracy(tower, testPx, testLab):P1}");
var trainItems = tensor(trainPx, new long[] { trainLab.Length, 1, 28, 28 });
var testItems = tensor(testPx, new long[] { testLab.Length, 1, 28, 28 });
Tensor trainGrids, testGrids;
using (no_grad()) { trainGrids = tower.Grid(trainItems); testGrids = tower.Grid(testItems); }

// ---- data ---------------------------------------------------------------------------------------------------------
var teacherGen = new FashionSceneVqa(trainPx, trainLab, seed: 1000);
var studentGen = new FashionSceneVqa(trainPx.AsSpan(0, studentSourceRows * 784).ToArray(), trainLab.AsSpan(0, studentSourceRows).ToArray(), seed: 2000);
var testGen = new FashionSceneVqa(testPx, testLab, seed: 3000);
const int N = 16;
Batch Build(IReadOnlyList<VqaExample> ex, Tensor grids, int sourceOffset = 0)
{
    int b = ex.Count;
    var src = ex.SelectMany(e => e.SourceIndices.Select(i => (long)(i + sourceOffset))).ToArray();
    var grid = ConvVisionTower.TileQuadrants(grids.index_select(0, tensor(src)).reshape(b, 4, 32, 4, 4));
    var enc = ex.Select(e => VqaEncoding.Training(tok, e.Question, e.Answer)).ToArray();
    int t = enc[0].Ids.Length;
    if (enc.Any(x => x.Ids.Length != t)) throw new InvalidOperationException("All scene sequences have one length.");
    var ids = tensor(enc.SelectMany(x => x.Ids).ToArray(), new long[] { b, t });
    var targets = tensor(enc.SelectMany(x => MiniVlm.SpliceIds(x.Ids, N)).ToArray(), new long[] { b, t - 1 + N });
    var sup = tensor(enc.SelectMany(x =>
    {
        int si = Array.IndexOf(x.Ids, (long)TextTokenizer.ImageId);
        return x.Supervised.Take(si).Concat(Enumerable.Repeat(0L, N)).Concat(x.Supervised.Skip(si + 1));
    }).ToArray(), new long[] { b, t - 1 + N });
    return new Batch(grid, ids, targets, sup, ex.ToArray());
}
Batch BuildFixed(IReadOnlyList<VqaExample> ex, Tensor grids) => Build(ex, grids);

// ---- evaluation -----------------------------------------------------------------------------------------------------
var testSet = BuildFixed(testGen.Examples(testExamples), testGrids);
int questionMark = 1 + N + 3, positionWord = 1 + N + 2;
Eval Evaluate(MiniVlm model, MiniVlm? reference)
{
    model.eval(); reference?.eval();
    using var _ = no_grad();
    int n = testSet.Examples.Length, correct = 0;
    var perType = new double[3]; var perTypeN = new double[3];
    var quads = new List<double>(); var kls = new List<double>();
    for (int start = 0; start < n; start += 500)
    {
        using var scope = NewDisposeScope();
        int b = Math.Min(500, n - start);
        var rows = arange(start, start + b, ScalarType.Int64);
        using var o = model.Run(testSet.Grid.index_select(0, rows), testSet.Ids.index_select(0, rows), attentionLayer0: true);
        var pred = o.Logits.select(1, questionMark).argmax(1).data<long>().ToArray();
        var target = testSet.Targets.index_select(0, rows).select(1, questionMark + 1).data<long>().ToArray();
        for (int i = 0; i < b; i++)
        {
            var e = testSet.Examples[start + i];
            bool ok = pred[i] == target[i];
            if (ok) correct++;
            perType[(int)e.Type] += ok ? 1 : 0; perTypeN[(int)e.Type]++;
        }
        var what = Enumerable.Range(0, b).Where(i => testSet.Examples[start + i].Type == VqaQuestionType.What).ToArray();
        if (what.Length > 0)
        {
            var att = o.Attention!.index_select(0, tensor(what.Select(i => (long)i).ToArray()));
            quads.AddRange(AlignKdDiagnostics.Quad(att, what.Select(_ => (long)positionWord).ToArray(), what.Select(_ => 1L).ToArray(), 4,
                what.Select(i => testSet.Examples[start + i].AskedQuadrant).ToArray()));
        }
        if (reference is not null && start < 1000)
        {
            using var r = reference.Run(testSet.Grid.index_select(0, rows), testSet.Ids.index_select(0, rows), attentionLayer0: true);
            var text = AlignKdLosses.TextMask(o.VisionStart, N, o.Mask);
            kls.AddRange(AlignKdDiagnostics.AttentionKl(r.Attention!, o.Attention!, text, o.VisionStart, N));
        }
    }
    return new Eval(correct / (double)n, perType.Zip(perTypeN, (c, t) => c / Math.Max(1, t)).ToArray(), quads.Average(), kls.Count > 0 ? kls.Average() : double.NaN);
}

void TrainLoop(MiniVlm model, AlignKdAdapters? adapters, int steps, int batch, double lr, int warmup, Func<int, (Batch B, TeacherOutputs? T)> next,
    AlignKdObjectiveOptions? objective, string what)
{
    var ps = model.parameters().Where(p => p.requires_grad).ToList();
    if (adapters is not null) ps.AddRange(adapters.parameters().Where(p => p.requires_grad));
    var opt = optim.AdamW(ps, lr, weight_decay: 0.0);
    model.train();
    double avg = 0;
    for (int step = 0; step < steps; step++)
    {
        using var scope = NewDisposeScope();
        double f = step < warmup ? (step + 1.0) / warmup : 0.5 * (1 + Math.Cos(Math.PI * (step - warmup) / Math.Max(1, steps - warmup)));
        foreach (var g in opt.ParamGroups) g.LearningRate = lr * f;
        var (b, t) = next(step);
        bool needAtt = objective is not null && (objective.AttentionWeight > 0 || objective.VisionWeight > 0);
        using var o = model.Run(b.Grid, b.Ids, attentionLayer0: needAtt);
        Tensor loss;
        if (objective is null || t is null) loss = MLNetExtensions.Transforms.Language.TokenLogProbs.NextTokenLoss(o.Logits, b.Targets, b.LossMask);
        else
        {
            var terms = AlignKdObjective.Compute(o, t, b.Targets, b.LossMask, adapters!);
            loss = terms["total"];
        }
        opt.zero_grad(); loss.backward(); opt.step();
        avg = 0.98 * avg + 0.02 * loss.item<float>();
        if ((step + 1) % Math.Max(1, steps / 5) == 0) Log($"  {what} step {step + 1}/{steps} loss≈{avg / (1 - Math.Pow(0.98, step + 1)):F3}");
    }
    model.eval();
}

// ---- 2. teacher ---------------------------------------------------------------------------------------------------
torch.manual_seed(1);
var teacherCfg = new MiniVlmConfig(vocab, DModel: 64, Layers: 3, Heads: 4, MaxPositions: 32);
var teacher = new MiniVlm(teacherCfg);
teacher.LoadVisionTower(tower);
if (File.Exists(teacherPath)) { teacher.load(teacherPath); Log($"teacher loaded from {teacherPath}"); }
else { TrainLoop(teacher, null, teacherSteps, 128, 2e-3, 100, step => (BuildFixed(teacherGen.Examples(128, step * 128), trainGrids), null), null, "teacher"); teacher.save(teacherPath); }
var teacherEval = Evaluate(teacher, null);
Log($"teacher: acc {teacherEval.Acc:P1} (what {teacherEval.PerType[0]:P1}, where {teacherEval.PerType[1]:P1}, is-there {teacherEval.PerType[2]:P1}), quad {teacherEval.Quad:F3}");

// ---- 3. fixed student set + precomputed teacher outputs -------------------------------------------------------------
var studentSet = BuildFixed(studentGen.Examples(studentExamples), trainGrids);
Tensor tLogits, tZ, tA;
using (no_grad())
{
    using var o = teacher.Run(studentSet.Grid, studentSet.Ids, attentionLayer0: true);
    tLogits = o.Logits.detach().clone(); tZ = o.VisionTokens.detach().clone(); tA = o.Attention!.detach().clone();
}
Log($"teacher outputs precomputed for {studentExamples} examples: logits {string.Join("×", tLogits.shape)}, Z {string.Join("×", tZ.shape)}, A {string.Join("×", tA.shape)}");

var none = new AlignKdObjectiveOptions { KdWeight = 0, VisionWeight = 0, AttentionWeight = 0 };
var variants = new (string Name, AlignKdObjectiveOptions O)[]
{
    ("CE only", none),
    ("CE + L_att", none with { AttentionWeight = 1 }),
    ("CE + KD", none with { KdWeight = 1 }),
    ("CE + KD + L_V (frozen random adapter)", none with { KdWeight = 1, VisionWeight = 1, ProjectionAdapter = ProjectionAdapter.TeacherFrozenRandom }),
    ("CE + KD + L_V (learnable adapter)", none with { KdWeight = 1, VisionWeight = 1 }),
    ("CE + KD + L_att", none with { KdWeight = 1, AttentionWeight = 1 }),
    ("CE + KD + L_V (frozen) + L_att", new AlignKdObjectiveOptions { ProjectionAdapter = ProjectionAdapter.TeacherFrozenRandom }),
    ("full Align-KD (learnable L_V + L_att)", new AlignKdObjectiveOptions()),
    ("code-faithful (VisionQueryTextKey, frozen adapters)", AlignKdObjectiveOptions.CodeFaithful),
};
var only = cli.GetValue(variantsO)!;
if (only.Length > 0) variants = only.Split(',').Select(int.Parse).Select(i => variants[i]).ToArray();
int Find(string name) => Array.FindIndex(variants, v => v.Name == name || (name == "full" && v.Name.StartsWith("full", StringComparison.Ordinal)));
var results = new Eval?[variants.Length, seeds];
var heat = new Dictionary<string, MiniVlm>();
for (int seed = 0; seed < seeds; seed++)
{
    for (int v = 0; v < variants.Length; v++)
    {
        torch.manual_seed(100 + seed);                          // same student init per seed across variants
        var student = new MiniVlm(new MiniVlmConfig(vocab, DModel: 32, Layers: 2, Heads: 4, MaxPositions: 32));
        student.LoadVisionTower(tower);
        var opts = variants[v].O with { AdapterSeed = seed };
        var adapters = new AlignKdAdapters(opts, 4, 4, 32, 64);
        var order = new Random(seed);                           // same data order per seed across variants
        var perm = Enumerable.Range(0, studentExamples).ToArray();
        int pos = studentExamples;
        TrainLoop(student, adapters, studentSteps, 64, 2e-3, 50, _ =>
        {
            if (pos + 64 > studentExamples) { for (int i = perm.Length - 1; i > 0; i--) { int j = order.Next(i + 1); (perm[i], perm[j]) = (perm[j], perm[i]); } pos = 0; }
            var idx = tensor(perm.AsSpan(pos, 64).ToArray().Select(i => (long)i).ToArray()); pos += 64;
            var b = new Batch(studentSet.Grid.index_select(0, idx), studentSet.Ids.index_select(0, idx), studentSet.Targets.index_select(0, idx),
                studentSet.LossMask.index_select(0, idx), Array.Empty<VqaExample>());
            return (b, new TeacherOutputs(tLogits.index_select(0, idx), tZ.index_select(0, idx), tA.index_select(0, idx)));
        }, opts, $"seed {seed} {variants[v].Name}");
        results[v, seed] = Evaluate(student, teacher);
        var r = results[v, seed]!;
        Log($"seed {seed} | {variants[v].Name}: acc {r.Acc:P1} what {r.PerType[0]:P1} where {r.PerType[1]:P1} is-there {r.PerType[2]:P1} quad {r.Quad:F3} attKL {r.AttKl:F3}");
        if (seed == 0 && (variants[v].Name == "CE only" || variants[v].Name == "CE + KD" || variants[v].Name.StartsWith("full"))) heat[variants[v].Name] = student; else student.Dispose();
    }
    WriteReport(seed + 1);
    if (seed == 0) WriteHeatmaps();
}
Log("done");

void WriteReport(int done)
{
    var sb = new StringBuilder();
    sb.AppendLine($"Teacher: acc {teacherEval.Acc * 100:F1} (what {teacherEval.PerType[0] * 100:F1}, where {teacherEval.PerType[1] * 100:F1}, is-there {teacherEval.PerType[2] * 100:F1}), quad {teacherEval.Quad:F3}");
    sb.AppendLine();
    sb.AppendLine($"Students, {done} paired seed(s), {studentExamples} fixed examples, {studentSteps} steps × 64; test {testExamples} examples (attKL on the first 1000).");
    sb.AppendLine();
    sb.AppendLine("| student objective | acc mean ± s.d. | per seed | what | where | is-there | quad | attKL (mean, max) |");
    sb.AppendLine("|---|---|---|---|---|---|---|---|");
    for (int v = 0; v < variants.Length; v++)
    {
        var rs = Enumerable.Range(0, done).Select(s => results[v, s]!).ToArray();
        var acc = rs.Select(r => r.Acc * 100).ToArray();
        sb.AppendLine($"| {variants[v].Name} | {acc.Average():F1} ± {Sd(acc):F1} | {string.Join(" / ", acc.Select(a => a.ToString("F1")))} | " +
            $"{rs.Average(r => r.PerType[0]) * 100:F1} | {rs.Average(r => r.PerType[1]) * 100:F1} | {rs.Average(r => r.PerType[2]) * 100:F1} | " +
            $"{rs.Average(r => r.Quad):F3} ± {Sd(rs.Select(r => r.Quad).ToArray()):F3} | {rs.Average(r => r.AttKl):F3} ({rs.Max(r => r.AttKl):F3}) |");
    }
    sb.AppendLine();
    sb.AppendLine("Per seed (acc % / quad / attKL):");
    sb.AppendLine();
    sb.AppendLine("| variant | " + string.Join(" | ", Enumerable.Range(0, done).Select(s => $"seed {s}")) + " |");
    sb.AppendLine("|---|" + string.Concat(Enumerable.Repeat("---|", done)));
    for (int v = 0; v < variants.Length; v++)
        sb.AppendLine($"| {variants[v].Name} | " + string.Join(" | ", Enumerable.Range(0, done).Select(s => { var r = results[v, s]!; return $"{r.Acc * 100:F1} / {r.Quad:F2} / {r.AttKl:F2}"; })) + " |");
    sb.AppendLine();
    sb.AppendLine(Checks(done));
    File.WriteAllText(Path.Combine(outDir, "results.md"), sb.ToString());
    Console.WriteLine(sb.ToString());
        var accChart = new PngChart { Title = $"Student accuracy per variant (mean ± s.d., {done} seeds)", XLabel = "variant index (results.md order)", YLabel = "test accuracy %" };
    for (int v = 0; v < variants.Length; v++)
        accChart.AddErrorBars(variants[v].Name, new[] { (double)v }, new[] { Enumerable.Range(0, done).Average(s => results[v, s]!.Acc * 100) },
            new[] { Sd(Enumerable.Range(0, done).Select(s => results[v, s]!.Acc * 100).ToArray()) }, line: false);
    accChart.Save(Path.Combine(outDir, "accuracy.png"));
    var klChart = new PngChart { Title = $"Layer-0 text→vision attKL(teacher‖student) per variant (mean ± s.d., {done} seeds)", XLabel = "variant index (results.md order)", YLabel = "attKL" };
    for (int v = 0; v < variants.Length; v++)
        klChart.AddErrorBars(variants[v].Name, new[] { (double)v }, new[] { Enumerable.Range(0, done).Average(s => results[v, s]!.AttKl) },
            new[] { Sd(Enumerable.Range(0, done).Select(s => results[v, s]!.AttKl).ToArray()) }, line: false);
    klChart.Save(Path.Combine(outDir, "attkl.png"));
}

string Checks(int done)
{
    double Mean(int v, Func<Eval, double> f) => Enumerable.Range(0, done).Average(s => f(results[v, s]!));
    int ce = Find("CE only"), kd = Find("CE + KD"), kdAtt = Find("CE + KD + L_att"), full = Find("full");
    if (ce < 0 || kd < 0 || kdAtt < 0 || full < 0) return "Acceptance checks need the CE, CE + KD, CE + KD + L_att and full variants.";
    var sb = new StringBuilder("Acceptance checks (note §5.4):\n\n");
    sb.AppendLine($"1. teacher acc {teacherEval.Acc:F3} ≥ 0.75: {teacherEval.Acc >= 0.75}; teacher quad {teacherEval.Quad:F3} ≥ 0.7: {teacherEval.Quad >= 0.7}");
    double d2 = (Mean(kd, r => r.Acc) - Mean(ce, r => r.Acc)) * 100;
    sb.AppendLine($"2. acc(CE+KD) − acc(CE) = {d2:+0.0;-0.0} points ≥ +8: {d2 >= 8}");
    double maxKl = Enumerable.Range(0, done).Max(s => results[full, s]!.AttKl), klFull = Mean(full, r => r.AttKl), klKd = Mean(kd, r => r.AttKl);
    double dq = Mean(full, r => r.Quad) - Mean(kd, r => r.Quad);
    sb.AppendLine($"3. attKL(full) max over seeds {maxKl:F3} ≤ 0.6: {maxKl <= 0.6}; mean {klFull:F3} ≤ 0.6 × attKL(CE+KD) = {0.6 * klKd:F3}: {klFull <= 0.6 * klKd}; quad(full) − quad(CE+KD) = {dq:+0.000;-0.000} ≥ +0.12: {dq >= 0.12}");
    double d4 = (Mean(full, r => r.Acc) - Mean(kd, r => r.Acc)) * 100;
    int wins = Enumerable.Range(0, done).Count(s => results[full, s]!.Acc > results[kd, s]!.Acc);
    sb.AppendLine($"4. acc(full) − acc(CE+KD) = {d4:+0.0;-0.0} points ≥ +5 (issue; note: +4): {d4 >= 5}; full > KD on {wins}/{done} seeds (need ≥ 4 of 5): {wins >= Math.Min(4, done)}");
    double d5 = (Mean(full, r => r.Acc) - Mean(kdAtt, r => r.Acc)) * 100;
    sb.AppendLine($"5. acc(full) − acc(CE+KD+L_att) = {d5:+0.0;-0.0} points ≥ −2: {d5 >= -2}");
    return sb.ToString();
}

void WriteHeatmaps()
{
    var samples = testSet.Examples.Select((e, i) => (e, i)).Where(p => p.e.Type == VqaQuestionType.What).Take(6).ToArray();
    var models = new List<(string, MiniVlm)> { ("teacher", teacher) };
    models.AddRange(heat.Select(kv => (kv.Key, kv.Value)));
    var images = new List<(float[], int, int, int, string)>();
    using var _ = no_grad();
    foreach (var (e, i) in samples)
    {
        var scene = testGen.Render(e);
        images.Add((scene, 1, 56, 56, $"{e.Question} → {e.Answer}"));
        foreach (var (name, m) in models)
        {
            using var o = m.Run(testSet.Grid.narrow(0, i, 1), testSet.Ids.narrow(0, i, 1), attentionLayer0: true);
            var row = o.Attention!.mean(new long[] { 1 })[0][positionWord].narrow(0, 1, N).data<float>().ToArray();
            float mx = row.Max();
            var up = new float[56 * 56];
            for (int y = 0; y < 56; y++) for (int x = 0; x < 56; x++) up[y * 56 + x] = 0.35f * scene[y * 56 + x] + 0.65f * row[(y / 14) * 4 + x / 14] / Math.Max(mx, 1e-6f);
            images.Add((up, 1, 56, 56, name.Length > 26 ? name[..26] : name));
        }
    }
    PngChart.SaveImageGrid(Path.Combine(outDir, "attention-heatmaps.png"), images, columns: models.Count + 1, scale: 3,
        title: "Layer-0 attention of the position word (head mean) over the 4×4 vision tokens: scene, teacher, students (seed 0)");
}

static double Sd(double[] x) => x.Length < 2 ? 0 : Math.Sqrt(x.Select(v => (v - x.Average()) * (v - x.Average())).Sum() / (x.Length - 1));
return 0;

record Batch(Tensor Grid, Tensor Ids, Tensor Targets, Tensor LossMask, VqaExample[] Examples);
record Eval(double Acc, double[] PerType, double Quad, double AttKl);

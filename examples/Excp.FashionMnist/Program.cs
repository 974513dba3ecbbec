// ExCP on a real training run: an MLP 784-256-128-10 trained with Adam on Fashion-MNIST (method note §6 set-up),
// a checkpoint every N steps, then each checkpoint sequence compressed as an ExCP chain for several α values.
// Reports chain size vs raw fp32 / fp16 / zstd of raw, the test accuracy of the model decoded from the last chain
// step vs the uncompressed one, and codec throughput; draws ratio and accuracy vs α with PngChart.
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using MLNetExtensions.CommandLine;
using Microsoft.ML.Data;
using MLNetExtensions.Transforms.Excp;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Plotting;
using TorchSharp;
using static TorchSharp.torch;
using static MLNetExtensions.CommandLine.CommandLineApp;
using MLNetExtensions.Transforms.Datasets;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
var epochsO = Defaulted("--epochs", "Training epochs.", 4);
var everyO = Defaulted("--every", "Steps between checkpoints.", 100);
var trainRowsO = Defaulted("--train-rows", "Training rows (the embedded subset has fewer).", 60000);
var alphasO = DefaultedList("--alphas", "ExCP α values to compress with (comma-separated).", 5e-5, 5e-4, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2);
var resumeO = Defaulted("--resume-experiment", "Run the resume-from-decoded-checkpoint experiment instead (α default 5e-5,5e-3).", false);
var resumeAtO = Defaulted("--resume-at", "Resume experiment: the step to resume from.", 1000);
var resumeStepsO = Defaulted("--resume-steps", "Resume experiment: steps trained after resuming.", 400);
var beta2sO = DefaultedList("--beta2s", "Resume experiment: Adam β2 values (comma-separated).", 0.999, 0.95);
var outO = Defaulted("--out", "Output folder.", "excp-fmnist-out");
var seedO = Defaulted("--seed", "Random seed.", 1);
var root = new RootCommand("ExCP on a real training run: checkpoint sequences of an MLP on Fashion-MNIST compressed for several α. " + ExitCodesHelp)
    { epochsO, everyO, trainRowsO, alphasO, resumeO, resumeAtO, resumeStepsO, beta2sO, outO, seedO };
if (CommandLineApp.Parse(root, args, out int exit) is not { } cli) return exit;
int epochs = cli.GetValue(epochsO), every = cli.GetValue(everyO), batch = 128, trainRows = cli.GetValue(trainRowsO), seed = cli.GetValue(seedO);
double[] alphas = cli.GetValue(alphasO)!;
string outDir = cli.GetValue(outO)!;
bool resumeExperiment = cli.GetValue(resumeO), alphasGiven = cli.GetResult(alphasO) is { Implicit: false };
int resumeAt = cli.GetValue(resumeAtO), resumeSteps = cli.GetValue(resumeStepsO);
double[] beta2s = cli.GetValue(beta2sO)!;
if (every < 1) throw new UsageException($"--every must be at least 1 (got {every}).");
Directory.CreateDirectory(outDir);
var total = Stopwatch.StartNew();

// ---- data (full Fashion-MNIST from the Debian package when present, else the embedded subset) ----
var ml = new MLContext(seed);
(Tensor X, Tensor Y) Load(FashionMnistSplit split, int? rows)
{
    var view = FashionMnist.Load(ml, split, rows);
    var px = view.GetColumn<VBuffer<float>>("Pixels").SelectMany(v => v.DenseValues()).ToArray();
    var lab = view.GetColumn<uint>("Label").Select(k => (long)k - 1).ToArray();
    return (tensor(px).reshape(lab.Length, 784), tensor(lab));
}
var (xTrain, yTrain) = Load(FashionMnistSplit.Train, trainRows);
var (xTest, yTest) = Load(FashionMnistSplit.Test, null);
Console.WriteLine($"Fashion-MNIST {(FashionMnist.FullDataAvailable ? "full" : "embedded subset")}: {xTrain.shape[0]} train, {xTest.shape[0]} test rows");
if (resumeExperiment)
    return MLNetExtensions.Examples.Excp.ResumeExperiment.Run(xTrain, yTrain, xTest, yTest, seed, every, resumeAt, resumeSteps,
        alphasGiven ? alphas : new[] { 5e-5, 5e-3 }, beta2s, outDir);

nn.Module<Tensor, Tensor> NewModel()
{
    torch.manual_seed(seed);
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10));
}
double Accuracy(nn.Module<Tensor, Tensor> m)
{
    using var _ = no_grad(); using var scope = NewDisposeScope();
    m.eval();
    return m.call(xTest).argmax(1).eq(yTest).to(float32).mean().item<float>() * 100.0;
}

// ---- training: Adam lr 1e-3, default betas, fixed seeded batch order; checkpoints captured in memory ----
var model = NewModel();
var opt = optim.Adam(model.parameters(), 1e-3);
var checkpoints = new List<TrainingCheckpoint>();
long step = 0; int n = (int)xTrain.shape[0];
var trainSw = Stopwatch.StartNew();
double captureSec = 0;
for (int ep = 0; ep < epochs; ep++)
{
    model.train();
    var perm = Enumerable.Range(0, n).ToArray();
    new Random(seed * 1000 + ep).Shuffle(perm);
    for (int s = 0; s + batch <= n; s += batch)
    {
        using (var scope = NewDisposeScope())
        {
            var idx = tensor(perm.AsSpan(s, batch).ToArray().Select(v => (long)v).ToArray());
            opt.zero_grad();
            var loss = nn.functional.cross_entropy(model.call(xTrain.index_select(0, idx)), yTrain.index_select(0, idx));
            loss.backward();
            opt.step();
        }
        step++;
        if (step % every == 0)
        {
            var c0 = Stopwatch.StartNew();
            checkpoints.Add(TorchCheckpointAdapter.Capture(model, opt, step));
            captureSec += c0.Elapsed.TotalSeconds;
        }
    }
}
double accTrue = Accuracy(model);
long rawOne = checkpoints[0].RawFloat32Bytes;
long rawAll = checkpoints.Sum(c => c.RawFloat32Bytes);
Console.WriteLine($"trained {step} steps in {trainSw.Elapsed.TotalSeconds:F1}s; {checkpoints.Count} checkpoints (every {every} steps); " +
    $"uncompressed final test accuracy {accTrue:F2} %; raw fp32 weights+moments per checkpoint {rawOne:N0} B");

// ---- generic baselines on the raw fp32 bytes (weights + exp_avg + exp_avg_sq) ----
byte[] RawBytes(TrainingCheckpoint c)
{
    using var ms = new MemoryStream();
    foreach (var p in c.Parameters)
    {
        ms.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(p.Values.AsSpan()));
        if (p.Adam != null)
        {
            ms.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(p.Adam.ExpAvg.AsSpan()));
            ms.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(p.Adam.ExpAvgSq.AsSpan()));
        }
    }
    return ms.ToArray();
}
long zstd3All = 0;
using (var z3 = new ZstdSharp.Compressor(3)) foreach (var c in checkpoints) zstd3All += z3.Wrap(RawBytes(c)).Length;
long zstd19Last;
using (var z19 = new ZstdSharp.Compressor(19)) zstd19Last = z19.Wrap(RawBytes(checkpoints[^1])).Length;
Console.WriteLine($"whole run raw fp32 {rawAll:N0} B, fp16 {rawAll / 2:N0} B, zstd -3 of raw {zstd3All:N0} B ({(double)rawAll / zstd3All:F2}x); " +
    $"last checkpoint zstd -19 {zstd19Last:N0} B ({(double)checkpoints[^1].RawFloat32Bytes / zstd19Last:F2}x)");

// ---- ExCP chains over α ----
var rows = new List<string>();
var results = new List<(double Alpha, double Ratio, double RatioLinks, double Acc, double WKept, double MKept, double CompMBs, double DecMBs)>();
foreach (var alpha in alphas)
{
    var dir = Path.Combine(outDir, $"chain-alpha-{alpha:G3}");
    if (Directory.Exists(dir)) Directory.Delete(dir, true);
    var chain = ExcpChain.Open(dir, new ExcpOptions { Alpha = alpha });
    var sw = new Stopwatch();
    double wKept = 0, mKept = 0; int links = 0;
    long weightsPart = 0, totalLinks = 0;
    foreach (var c in checkpoints)
    {
        sw.Start();
        var r = chain.Append(c);
        sw.Stop();
        if (!r.Entry.IsKeyFrame)
        {
            links++; totalLinks += r.CompressedBytes;
            long all = r.Statistics.Values.Sum(s => s.Elements);
            wKept += r.Statistics.Values.Sum(s => (double)s.WeightKept) / all;
            mKept += r.Statistics.Values.Sum(s => (double)s.MomentKept) / all;
        }
    }
    long chainBytes = chain.Entries.Sum(e => e.FileLength);
    // Decompression: re-open the chain (no cache) and decode every step from the key frame to the last.
    var reopened = ExcpChain.Open(dir);
    var dsw = Stopwatch.StartNew();
    var last = reopened.Read(reopened.Entries[^1].Step);
    dsw.Stop();
    var m2 = NewModel();
    TorchCheckpointAdapter.Restore(last, m2, null);
    double acc = Accuracy(m2);
    double ratioAll = (double)rawAll / chainBytes, ratioLinks = (double)(rawAll - checkpoints[0].RawFloat32Bytes) / totalLinks;
    double compMBs = rawAll / 1e6 / sw.Elapsed.TotalSeconds, decMBs = rawAll / 1e6 / dsw.Elapsed.TotalSeconds;
    results.Add((alpha, ratioAll, ratioLinks, acc, wKept / links * 100, mKept / links * 100, compMBs, decMBs));
    var line = $"| {alpha:G3} | {chainBytes:N0} | {ratioAll:F1}× | {totalLinks / (double)links / 1024:F1} KB | {ratioLinks:F1}× | {ratioLinks / 2:F1}× | " +
        $"{(double)zstd3All * (rawAll - checkpoints[0].RawFloat32Bytes) / rawAll / totalLinks:F1}× | {wKept / links * 100:F1} % | {mKept / links * 100:F1} % | " +
        $"{acc:F2} % ({acc - accTrue:+0.00;-0.00}) | {compMBs:F0} | {decMBs:F0} |";
    rows.Add(line);
    Console.WriteLine(line);
}
Console.WriteLine();
Console.WriteLine($"| α | whole chain B | vs raw fp32 (whole chain, key frame included) | mean link | links vs raw fp32 | links vs fp16 | links vs zstd -3 of raw | weight residual kept | moments kept | test acc decoded last step (Δ vs {accTrue:F2} %) | compress MB/s | decompress MB/s |");
Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
foreach (var r in rows) Console.WriteLine(r);
var best = results.Where(r => r.Acc >= accTrue - 1.0).OrderByDescending(r => r.RatioLinks).FirstOrDefault();
Console.WriteLine(best.Alpha > 0
    ? $"best setting with ≤ 1 pp drop: α = {best.Alpha:G3}: links {best.RatioLinks:F1}×, whole chain {best.Ratio:F1}×, accuracy {best.Acc:F2} %"
    : "no α kept the accuracy within 1 pp");

new PngChart { Title = "ExCP on Fashion-MNIST MLP: compression vs α", XLabel = "α", YLabel = "ratio vs raw fp32 (×)", LogX = true }
    .AddLine("links (per checkpoint)", results.Select(r => r.Alpha), results.Select(r => r.RatioLinks))
    .AddLine("whole chain incl. key frame", results.Select(r => r.Alpha), results.Select(r => r.Ratio))
    .Save(Path.Combine(outDir, "excp-ratio-vs-alpha.png"));
new PngChart { Title = "ExCP on Fashion-MNIST MLP: test accuracy of decoded last step vs α", XLabel = "α", YLabel = "test accuracy (%)", LogX = true }
    .AddLine("decoded chain end", results.Select(r => r.Alpha), results.Select(r => r.Acc))
    .AddLine("uncompressed", results.Select(r => r.Alpha), results.Select(_ => accTrue))
    .Save(Path.Combine(outDir, "excp-accuracy-vs-alpha.png"));
Console.WriteLine($"charts in {outDir}; total {total.Elapsed.TotalSeconds:F0}s (capture {captureSec:F1}s)");
return 0;

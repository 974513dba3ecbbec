using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Core.IO;
using MLNetExtensions.Core.Plotting;
using MLNetExtensions.Estimators.TinyViM;
using MLNetExtensions.Transforms.TinyViM;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;
using MLNetExtensions.Transforms.Datasets;

namespace MLNetExtensions.Benchmarks;

/// <summary>
/// TinyViM figures for docs/benchmarks.md: training images/s through the estimator, batched Transform vs the bare
/// module, PredictionEngine latency, chunked vs sequential scan (L = 256…4096), and the same forward/backward in
/// Debian's PyTorch 1.13 (benchmarks/python/tinyvim_bench.py) in the same run.
/// </summary>
internal static class TinyViMBench
{
    private sealed class Row { [VectorType(3, 64, 64)] public float[] Pixels { get; set; } = Array.Empty<float>(); }

    public static int Run(string[] argv)
    {
        var a = new BenchArgs(argv);
        int threads = a.Int("threads", Environment.ProcessorCount);
        torch.set_num_threads(threads);
        string variant = a.Get("variant") ?? "Tiny";
        int rows = a.Int("rows", 2048), batch = a.Int("batch", 64);
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine($"# TinyViM-{variant} benchmarks ({threads} threads, {Environment.ProcessorCount} cores, batch {batch}, 64×64)\n");

        // 1. Training throughput through the estimator (real images, ResizeImages in the pipeline).
        var ml = new MLContext(seed: 0);
        var train = FashionMnist.Load(ml, FashionMnistSplit.Train, rows);
        var sw = Stopwatch.StartNew();
        var model = ml.Transforms.ResizeImages("Image", 64, 64, "Image").Append(ml.MulticlassClassification.Trainers.TinyViM(
            new TinyViMClassifier.Options { Variant = variant, MaxEpochs = 1, BatchSize = batch, Seed = 0, LogEveryNSteps = 0 })).Fit(train);
        double trainIps = rows / sw.Elapsed.TotalSeconds;
        var clf = (TorchImageClassificationTransformer)model.LastTransformer;

        // 2. Batched Transform vs the bare module on the same images, same batch size.
        var test = ml.Transforms.ResizeImages("Image", 64, 64, "Image").Fit(train).Transform(FashionMnist.Load(ml, FashionMnistSplit.Test, rows));
        clf.InferenceBatchSize = batch;
        double transformMs = BenchArgs.MedianMs(3, () => { foreach (var _ in clf.Transform(test).GetColumn<VBuffer<float>>("Score")) { } });
        using var x = torch.rand(batch, 3, 64, 64);
        double bareMs = BenchArgs.MedianMs(5, () => { using var s = torch.NewDisposeScope(); using var m = torch.inference_mode(); clf.Network.call(x); }) * rows / batch;

        // 3. PredictionEngine latency (one image per call).
        var pixels = new MLContext().Data.LoadFromEnumerable(new[] { new Row { Pixels = new float[3 * 64 * 64] } });
        var image = (ImageInputSpec)clf.Description.Inputs[0];
        var vecModel = new TorchImageClassificationTransformer(ml,
            clf.Description with { Inputs = new InputSpec[] { image with { Column = "Pixels", IsVector = true, SourceChannels = 3 } } }, clf.Network, clf.Device);
        using var engine = ml.Model.CreatePredictionEngine<Row, ScoreRow>(vecModel, new PredictionEngineOptions { OwnsTransformer = false });
        var one = new Row { Pixels = Enumerable.Range(0, 3 * 64 * 64).Select(i => (i % 97) / 97f).ToArray() };
        var lat = new List<double>();
        for (int i = 0; i < 200; i++) { var t0 = Stopwatch.GetTimestamp(); engine.Predict(one); lat.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds); }
        lat = lat.Skip(20).OrderBy(v => v).ToList();

        Console.WriteLine("| measure | value |\n|---|---|");
        Console.WriteLine(string.Format(inv, "| training (estimator, 1 epoch, {0} rows) | {1:F0} images/s |", rows, trainIps));
        Console.WriteLine(string.Format(inv, "| batched Transform ({0} rows) | {1:F0} images/s |", rows, rows / transformMs * 1000));
        Console.WriteLine(string.Format(inv, "| bare module forward, same batches | {0:F0} images/s |", rows / bareMs * 1000));
        Console.WriteLine(string.Format(inv, "| Transform / bare module time | {0:F2}× |", transformMs / bareMs));
        Console.WriteLine(string.Format(inv, "| PredictionEngine latency p50 / p95 | {0:F2} ms / {1:F2} ms |", lat[lat.Count / 2], lat[(int)(lat.Count * 0.95)]));

        // 4. Chunked vs sequential scan.
        Console.WriteLine("\n| L | sequential ms | chunked ms | speed-up | max abs diff |\n|---|---|---|---|---|");
        var ls = new List<double>(); var seqT = new List<double>(); var chT = new List<double>();
        foreach (var L in new[] { 256, 512, 1024, 2048, 4096 })
        {
            torch.manual_seed(0);
            int Bt = 2, D = 64, N = 8;
            using var scope = torch.NewDisposeScope();
            using var nog = torch.no_grad();
            var u = torch.randn(Bt, D, L); var delta = torch.randn(Bt, D, L) - 2; var A = -torch.rand(D, N) - 0.5;
            var B = torch.randn(Bt, 1, N, L); var C = torch.randn(Bt, 1, N, L); var Dd = torch.rand(D);
            double ts = BenchArgs.MedianMs(3, () => { using var s = torch.NewDisposeScope(); SelectiveScan.Sequential(u, delta, A, B, C, Dd); });
            double tc = BenchArgs.MedianMs(3, () => { using var s = torch.NewDisposeScope(); SelectiveScan.Chunked(u, delta, A, B, C, Dd); });
            var diff = (SelectiveScan.Sequential(u, delta, A, B, C, Dd) - SelectiveScan.Chunked(u, delta, A, B, C, Dd)).abs().max().item<float>();
            Console.WriteLine(string.Format(inv, "| {0} | {1:F1} | {2:F1} | {3:F1}× | {4:E1} |", L, ts, tc, ts / tc, diff));
            ls.Add(L); seqT.Add(ts); chT.Add(tc);
        }
        var png = Path.Combine(a.Out, "tinyvim-scan.png");
        new PngChart { Title = "Selective scan: sequential vs chunked (B=2, D=64, N=8)", XLabel = "sequence length L", YLabel = "ms", LogX = true, LogY = true }
            .AddLine("sequential", ls, seqT).AddLine("chunked", ls, chT).Save(png);
        Console.WriteLine($"\nplot: {png}");

        // 5. PyTorch 1.13 side by side: the same network (weights exported from this run) forward/backward.
        PyTorchSideBySide(a, variant, batch, threads, inv);
        clf.Dispose();
        return 0;
    }

    private sealed class ScoreRow { public float[] Score { get; set; } = Array.Empty<float>(); }

    private static void PyTorchSideBySide(BenchArgs a, string variant, int batch, int threads, CultureInfo inv)
    {
        var script = Path.Combine(AppContext.BaseDirectory, "python", "tinyvim_bench.py");
        if (!File.Exists("/usr/bin/python3") || !File.Exists(script))
        {
            Console.WriteLine("\nPyTorch side by side skipped: /usr/bin/python3 (python3-torch) or the script is missing.");
            return;
        }
        torch.manual_seed(0);
        using var net = new TinyViMModel(TinyViMConfig.Named(variant), 10, distillation: false);
        var dir = Directory.CreateTempSubdirectory("tinyvim-bench").FullName;
        var weights = Path.Combine(dir, "weights.pt");
        net.save_py(weights);
        using var x = torch.rand(batch, 3, 64, 64);
        Npy.Write(Path.Combine(dir, "x.npy"), x.data<float>().ToArray(), batch, 3, 64, 64);
        net.train();
        var y = torch.randint(0, 10, batch);
        double ours = BenchArgs.MedianMs(5, () =>
        {
            using var s = torch.NewDisposeScope();
            net.zero_grad();
            nn.functional.cross_entropy(net.call(x), y).backward();
        });
        var psi = new ProcessStartInfo("/usr/bin/python3", $"\"{script}\" --variant {variant} --weights \"{weights}\" --x \"{Path.Combine(dir, "x.npy")}\" --threads {threads}")
        { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEnd(); var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        var line = stdout.Split('\n').FirstOrDefault(l => l.StartsWith("fwd_bwd_ms="));
        if (p.ExitCode != 0 || line == null) { Console.WriteLine($"\nPyTorch side by side failed: {stderr.Trim().Split('\n').LastOrDefault()}"); return; }
        double theirs = double.Parse(line["fwd_bwd_ms=".Length..].Trim(), inv);
        Console.WriteLine(string.Format(inv, "\n| forward+backward, batch {0}, train mode | ms |\n|---|---|\n| TorchSharp 0.107 / LibTorch 2.10 (this suite) | {1:F1} |\n| PyTorch 1.13 (Debian python3-torch), same weights | {2:F1} |\n| ratio PyTorch / ours | {3:F2}× |", batch, ours, theirs, theirs / ours));
        foreach (var l in stdout.Split('\n').Where(l => l.StartsWith("check")))
            Console.WriteLine(l);
    }
}

using System.Diagnostics;
using System.Globalization;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Transforms.Datasets.Video;
using MLNetExtensions.Core.Torch;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Transforms.Baselines;
using MLNetExtensions.Transforms.SqueezeTime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using MLNetExtensions.Transforms.Datasets;

namespace MLNetExtensions.Benchmarks;

/// <summary>
/// SqueezeTime vs a 3D-convolution ResNet of similar parameter count (issue 4: "clips/s for training and inference vs a
/// 3D-convolution baseline, side by side, as a ratio"). Pairs: <c>tiny</c> (SqueezeTime Tiny vs ResNet3D Tiny, the
/// example's 8×32×32 moving Fashion-MNIST clips), <c>k400</c> (the released SqueezeTime K400 network vs torchvision
/// r3d_18, both on 16×112×112 clips) and <c>native</c> (SqueezeTime K400 at its own 16×224² vs r3d_18 at its own
/// 16×112²). Both networks of a pair see the same real clips and are timed in alternation (medians), so load changes
/// on a shared machine hit both alike. <c>--accuracy</c> trains both Tiny networks on the example's motion task with
/// one loop and reports test accuracy and training time side by side.
/// Usage: <c>-- squeezetime [--pairs tiny,k400,native|none] [--threads 1,2] [--repeats 5] [--train-repeats 3] [--batch 16] [--large-batch 2]
/// [--accuracy] [--accuracy-threads 2] [--train 1500] [--test 400] [--epochs 4]</c>. Set <c>MLNETEXT_KEEP_MKLDNN=1</c> to time
/// libtorch's oneDNN convolutions (fast; its 2D ones are wrong on this machine's CPUs, its 3D ones pass the printed check).
/// </summary>
internal static class SqueezeTimeBench
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private sealed record Pair(string Name, SqueezeTimeConfig St, ResNet3DConfig R3d, int Frames, int StSide, int R3dSide, int Batch);

    public static int Run(string[] argv)
    {
        var a = new BenchArgs(argv);
        ConvolutionBackend.EnsureCorrect(); // the product's default: ATen convs where oneDNN's are wrong
        var threads = (a.Get("threads") ?? "1").Split(',').Select(int.Parse).ToArray();
        int reps = a.Int("repeats", 5);
        var pairs = (a.Get("pairs") ?? "tiny,k400").Split(',', StringSplitOptions.RemoveEmptyEntries).Where(p => p != "none").ToArray();
        int trainReps = a.Int("train-repeats", Math.Max(3, reps / 2 + 1));
        Console.WriteLine($"# SqueezeTime vs 3D-conv ResNet ({Environment.ProcessorCount} cores, load average {LoadAverage()}, " +
            $"oneDNN {(ConvolutionBackend.OneDnnEnabled == true ? "on" : "off")}, conv2d probe error {ConvolutionBackend.Probe():E1} " +
            $"(before the check {ConvolutionBackend.ProbeError?.ToString("E1", Inv) ?? "not run: MLNETEXT_KEEP_MKLDNN=1"}), " +
            $"conv3d float32 vs float64 error {Conv3dError():E1}, {reps} repeats, medians)\n");

        foreach (var name in pairs)
        {
            var pair = name.ToLowerInvariant() switch
            {
                "tiny" => new Pair("tiny", SqueezeTimeConfig.Tiny(numClasses: 4, frames: 8), ResNet3DConfig.Tiny(numClasses: 4), 8, 32, 32, a.Int("batch", 16)),
                "k400" => new Pair("k400", SqueezeTimeConfig.K400, ResNet3DConfig.R3D18(), 16, 112, 112, a.Int("large-batch", 2)),
                "native" => new Pair("native", SqueezeTimeConfig.K400, ResNet3DConfig.R3D18(), 16, 224, 112, a.Int("large-batch", 2)),
                _ => throw new ArgumentException($"unknown pair '{name}' (tiny, k400, native)"),
            };
            RunPair(pair, threads, reps, trainReps);
        }
        if (a.Has("accuracy")) Accuracy(a);
        return 0;
    }

    private static void RunPair(Pair p, int[] threadCounts, int reps, int trainReps)
    {
        manual_seed(0);
        using var st = new SqueezeTimeModel(p.St);
        manual_seed(0);
        using var r3d = new ResNet3D(p.R3d);
        using var xSt = Clips(p.Frames, p.StSide, p.Batch, out var labels);
        using var xR = p.R3dSide == p.StSide ? xSt.alias() : Clips(p.Frames, p.R3dSide, p.Batch, out _);
        using var y = tensor(labels.Select(l => (long)l).ToArray());
        long nSt = st.parameters().Sum(q => q.numel()), nR = r3d.parameters().Sum(q => q.numel());
        double macSt = Macs(st, xSt), macR = Macs(r3d, xR);
        Console.WriteLine($"## pair `{p.Name}`: SqueezeTime {Describe(p.St)} at {p.Frames}×{p.StSide}² vs ResNet3D {Describe(p.R3d)} at {p.Frames}×{p.R3dSide}², batch {p.Batch}\n");
        Console.WriteLine("| | SqueezeTime | ResNet3D | ratio ST/3D |\n|---|---|---|---|");
        Console.WriteLine(string.Format(Inv, "| parameters | {0:N0} | {1:N0} | {2:F2} |", nSt, nR, (double)nSt / nR));
        Console.WriteLine(string.Format(Inv, "| conv+linear GMACs per clip | {0:G4} | {1:G4} | {2:F3} |", macSt / 1e9, macR / 1e9, macSt / macR));

        var optSt = optim.AdamW(st.parameters(), 1e-4);
        var optR = optim.AdamW(r3d.parameters(), 1e-4);
        foreach (var t in threadCounts)
        {
            set_num_threads(t);
            var inf = Interleave(reps, () => Infer(st, xSt), () => Infer(r3d, xR));
            var trn = Interleave(trainReps, () => TrainStep(st, optSt, xSt, y), () => TrainStep(r3d, optR, xR, y));
            double Cps(double ms) => p.Batch * 1000.0 / ms;
            Console.WriteLine(string.Format(Inv, "| inference clips/s, {0} thread(s) (ms/batch) | {1} ({2:F0}) | {3} ({4:F0}) | **{5:F2}×** |",
                t, Rate(Cps(inf.A)), inf.A, Rate(Cps(inf.B)), inf.B, inf.B / inf.A));
            Console.WriteLine(string.Format(Inv, "| training clips/s, {0} thread(s) (ms/step) | {1} ({2:F0}) | {3} ({4:F0}) | **{5:F2}×** |",
                t, Rate(Cps(trn.A)), trn.A, Rate(Cps(trn.B)), trn.B, trn.B / trn.A));
        }
        Console.WriteLine($"\n(load average after the pair: {LoadAverage()})\n");
        optSt.Dispose(); optR.Dispose();
    }

    // Three significant digits without exponent notation (clips/s range from 0.01 to 1000+).
    private static string Rate(double v) => v >= 100 ? v.ToString("N0", Inv) : v.ToString(v >= 10 ? "F1" : v >= 1 ? "F2" : "G3", Inv);

    private static string Describe(SqueezeTimeConfig c) => $"{c.Block} [{string.Join(",", c.Layers)}] w {c.WidenFactor.ToString(Inv)}";

    private static string Describe(ResNet3DConfig c) =>
        $"[{string.Join(",", c.Layers)}] widths [{string.Join(",", c.Widths)}]";

    /// <summary>Normalised (N, 3, T, S, S) batch of real moving Fashion-MNIST clips (items scaled with the canvas).</summary>
    private static Tensor Clips(int frames, int side, int n, out int[] labels)
    {
        int item = Math.Min(28, side * 14 / 32), speed = Math.Max(2, side / 32);
        var data = new MovingFashionMnist(new MovingFashionMnistOptions(n, Seed: 11, Frames: frames, Height: side, Width: side, ItemSize: item, Speed: speed));
        var clips = Enumerable.Range(0, n).Select(data.GetClip).ToArray();
        labels = clips.Select(c => c.Label).ToArray();
        return SqueezeTimeClip.ToBatch(clips.Select(c => c.Clip).ToArray(), frames, side, side);
    }

    private static void Infer(nn.Module<Tensor, Tensor> m, Tensor x)
    {
        m.eval();
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        m.call(x);
    }

    private static void TrainStep(nn.Module<Tensor, Tensor> m, optim.Optimizer opt, Tensor x, Tensor y)
    {
        m.train();
        using var scope = NewDisposeScope();
        opt.zero_grad();
        nn.functional.cross_entropy(m.call(x), y).backward();
        opt.step();
    }

    /// <summary>One warm-up call each, then <paramref name="reps"/> rounds of A then B; median ms of each.</summary>
    private static (double A, double B) Interleave(int reps, Action a, Action b)
    {
        a(); b();
        var ta = new List<double>(); var tb = new List<double>();
        for (int r = 0; r < reps; r++)
        {
            ta.Add(Time(a));
            tb.Add(Time(b));
        }
        return (Median(ta), Median(tb));
    }

    private static double Time(Action a) { var sw = Stopwatch.StartNew(); a(); return sw.Elapsed.TotalMilliseconds; }

    private static double Median(List<double> t) { var s = t.OrderBy(v => v).ToList(); return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2; }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    /// <summary>
    /// Multiply-accumulates of the convolutions and linear layers for one clip (fvcore-style: what the paper's
    /// "GFLOPs" count): output elements × (input channels / groups) × kernel volume, from forward hooks on one clip.
    /// Element-wise ops, BN, pooling and the IOI bilinear resize are not counted.
    /// </summary>
    private static double Macs(nn.Module<Tensor, Tensor> model, Tensor batch)
    {
        double total = 0;
        var handles = new List<Action>();
        foreach (var (_, m) in model.named_modules())
        {
            switch (m)
            {
                case Conv2d c2: { var h = c2.register_forward_hook((mod, x, y) => { total += y.numel() * KernelMacs(c2.weight!); return null; }); handles.Add(h.remove); } break;
                case Conv3d c3: { var h = c3.register_forward_hook((mod, x, y) => { total += y.numel() * KernelMacs(c3.weight!); return null; }); handles.Add(h.remove); } break;
                case Linear l: { var h = l.register_forward_hook((mod, x, y) => { total += y.numel() * l.weight!.shape[1]; return null; }); handles.Add(h.remove); } break;
            }
        }
        model.eval();
        using (var scope = NewDisposeScope())
        using (inference_mode())
            model.call(batch.narrow(0, 0, 1));
        foreach (var remove in handles) remove();
        return total;
    }

    // Per output element: (C_in / groups) × kernel volume = product of the weight's dims after the first.
    private static double KernelMacs(Tensor w) => w.shape.Skip(1).Aggregate(1L, (p, d) => p * d);

    /// <summary>Max |float32 − float64| of r3d-like 3D convolutions on the current backend (oneDNN is probed for 2D only).</summary>
    private static double Conv3dError()
    {
        using var scope = NewDisposeScope();
        using var mode = no_grad();
        var gen = new Generator(7);
        double Err(long[] xs, long[] ws, long[] stride, long[] pad)
        {
            var x = randn(xs, generator: gen); var w = randn(ws, generator: gen);
            var f32 = nn.functional.conv3d(x, w, strides: stride, padding: pad);
            var f64 = nn.functional.conv3d(x.to(float64), w.to(float64), strides: stride, padding: pad);
            return (f32.to(float64) - f64).abs().max().item<double>();
        }
        return Math.Max(
            Err(new long[] { 2, 3, 8, 32, 32 }, new long[] { 8, 3, 3, 7, 7 }, new long[] { 1, 2, 2 }, new long[] { 1, 3, 3 }),
            Err(new long[] { 2, 16, 4, 8, 8 }, new long[] { 32, 16, 3, 3, 3 }, new long[] { 2, 2, 2 }, new long[] { 1, 1, 1 }));
    }

    /// <summary>
    /// Trains SqueezeTime Tiny and ResNet3D Tiny with the same loop, data and recipe as examples/SqueezeTime.Motion
    /// (AdamW 3e-3 cosine to 1e-5, weight decay 0.01, batch 32, no label smoothing, no dropout) and reports test accuracy,
    /// accuracy on time-reversed test clips scored against the opposite direction, and training time.
    /// </summary>
    private static void Accuracy(BenchArgs a)
    {
        int nTrain = a.Int("train", 1500), nTest = a.Int("test", 400), epochs = a.Int("epochs", 4), batch = 32;
        set_num_threads(a.Int("accuracy-threads", 2));
        var train = new MovingFashionMnist(new MovingFashionMnistOptions(nTrain, Seed: 1));
        var test = new MovingFashionMnist(new MovingFashionMnistOptions(nTest, Seed: 2, Split: FashionMnistSplit.Test));
        var o = train.Options;
        using var xTrain = Load(train, out var yTrain);
        using var xTest = Load(test, out var yTest);
        using var xRev = xTest.flip(2); // reverse time: right↔left, down↔up
        var opposite = new long[] { 1, 0, 3, 2 };
        var yRev = yTest.Select(l => opposite[l]).ToArray();
        Console.WriteLine($"## Motion task (moving Fashion-MNIST direction, train {nTrain}, test {nTest}, {o.Frames}×{o.Height}², {epochs} epochs, " +
            $"batch {batch}, {get_num_threads()} threads, load average {LoadAverage()})\n");
        Console.WriteLine("| model | parameters | test accuracy | time-reversed → opposite | training time | load average after |\n|---|---|---|---|---|---|");
        var models = new (string Name, Func<nn.Module<Tensor, Tensor>> Build)[]
        {
            ("SqueezeTime Tiny", () => new SqueezeTimeModel(SqueezeTimeConfig.Tiny(numClasses: 4, frames: o.Frames) with { DropoutRatio = 0 })),
            ("ResNet3D Tiny", () => new ResNet3D(ResNet3DConfig.Tiny(numClasses: 4))),
        };
        foreach (var (name, build) in models)
        {
            manual_seed(7);
            using var m = build();
            var sw = Stopwatch.StartNew();
            Fit(m, xTrain, yTrain, epochs, batch);
            var time = sw.Elapsed;
            double acc = Score(m, xTest, yTest), rev = Score(m, xRev, yRev);
            Console.WriteLine(string.Format(Inv, "| {0} | {1:N0} | {2:P1} | {3:P1} | {4:mm\\:ss} | {5} |",
                name, m.parameters().Sum(q => q.numel()), acc, rev, time, LoadAverage()));
        }
        Console.WriteLine();
    }

    private static Tensor Load(MovingFashionMnist v, out long[] labels)
    {
        var o = v.Options;
        var clips = Enumerable.Range(0, o.Count).Select(v.GetClip).ToArray();
        labels = clips.Select(c => (long)c.Label).ToArray();
        return SqueezeTimeClip.ToBatch(clips.Select(c => c.Clip).ToArray(), o.Frames, o.Height, o.Width);
    }

    private static void Fit(nn.Module<Tensor, Tensor> m, Tensor x, long[] y, int epochs, int batch)
    {
        int n = (int)x.shape[0], steps = n / batch, total = steps * epochs;
        using var yT = tensor(y);
        using var opt = optim.AdamW(m.parameters(), 3e-3, weight_decay: 0.01);
        var rng = new Random(0);
        m.train();
        for (int e = 0, step = 0; e < epochs; e++)
        {
            var perm = Enumerable.Range(0, n).OrderBy(_ => rng.Next()).Select(i => (long)i).ToArray();
            for (int s = 0; s < steps; s++, step++)
            {
                using var scope = NewDisposeScope();
                foreach (var g in opt.ParamGroups) g.LearningRate = LearningRates.At(LearningRateSchedule.Cosine, 3e-3, 1e-5, step, 0, total);
                var idx = tensor(perm.AsSpan(s * batch, batch).ToArray());
                opt.zero_grad();
                nn.functional.cross_entropy(m.call(x.index_select(0, idx)), yT.index_select(0, idx)).backward();
                opt.step();
            }
        }
    }

    private static double Score(nn.Module<Tensor, Tensor> m, Tensor x, long[] y)
    {
        m.eval();
        int correct = 0;
        using var mode = inference_mode();
        for (int s = 0; s < x.shape[0]; s += 100)
        {
            using var scope = NewDisposeScope();
            var pred = m.call(x.narrow(0, s, Math.Min(100, x.shape[0] - s))).argmax(1).data<long>().ToArray();
            for (int i = 0; i < pred.Length; i++) if (pred[i] == y[s + i]) correct++;
        }
        return correct / (double)y.Length;
    }
}

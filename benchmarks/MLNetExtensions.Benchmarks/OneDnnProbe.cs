using System.Diagnostics;
using System.Globalization;
using System.Text;
using MLNetExtensions.Core.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Benchmarks;

/// <summary>
/// Long adversarial probe of LibTorch's float32 convolutions against float64 references, per backend setting and thread
/// count, each in its own child process (the ISA caps are read once per process, before LibTorch's first kernel).
/// Usage: <c>-- onednn-probe [--iterations 1500] [--threads 1,2] [--configs off,on,on-avx2,...] [--load 2] [--out DIR]</c>.
/// <c>--load K</c> starts K busy-looping processes beside each child, the condition under which the fault was seen.
/// Writes <c>onednn-probe.csv</c> and a Markdown table.
/// </summary>
internal static class OneDnnProbe
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Backend settings: oneDNN switch plus the process environment that caps oneDNN's / ATen's ISA.</summary>
    private static readonly Dictionary<string, (bool OneDnn, (string, string)[] Env)> Configs = new()
    {
        ["off"] = (false, []),
        ["on"] = (true, []),
        ["on-avx2"] = (true, [("ONEDNN_MAX_CPU_ISA", "AVX2")]),
        ["on-avx512core"] = (true, [("ONEDNN_MAX_CPU_ISA", "AVX512_CORE")]),
        ["on-avx"] = (true, [("ONEDNN_MAX_CPU_ISA", "AVX")]),
        ["on-sse41"] = (true, [("ONEDNN_MAX_CPU_ISA", "SSE41")]),
        ["on-avx2vnni"] = (true, [("ONEDNN_MAX_CPU_ISA", "AVX2_VNNI")]),
        // The cap set by the library itself (libc setenv after LibTorch is loaded, before the first convolution).
        ["on-sse41-setenv"] = (true, []),
        ["on-aten-avx2"] = (true, [("ATEN_CPU_CAPABILITY", "avx2")]),
        ["off-aten-avx2"] = (false, [("ATEN_CPU_CAPABILITY", "avx2")]),
    };

    public static int Run(string[] argv)
    {
        var a = new BenchArgs(argv);
        if (a.Has("child")) return a.Has("speed") ? SpeedChild(a) : Child(a);
        return a.Has("speed") ? SpeedParent(a) : Parent(a);
    }

    private static ProcessStartInfo ChildStart(string config, IEnumerable<string> args)
    {
        var self = Environment.ProcessPath!;
        var dll = typeof(OneDnnProbe).Assembly.Location;
        var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
        if (!self.EndsWith(Path.GetFileNameWithoutExtension(dll), StringComparison.Ordinal)) psi.ArgumentList.Add(dll);
        psi.ArgumentList.Add("onednn-probe");
        psi.ArgumentList.Add("--child");
        psi.ArgumentList.Add("--config"); psi.ArgumentList.Add(config);
        foreach (var s in args) psi.ArgumentList.Add(s);
        foreach (var (k, v) in Configs[config].Env) psi.Environment[k] = v;
        return psi;
    }

    /// <summary>
    /// <c>--speed</c>: what each setting costs, as training-step and inference times of the suite's convolutional models,
    /// one child process per setting and round, rounds interleaved (medians, min–max) so load changes hit all settings alike.
    /// </summary>
    private static int SpeedParent(BenchArgs a)
    {
        int rounds = a.Int("rounds", 5);
        var threads = (a.Get("threads") ?? "1").Split(',').Select(int.Parse).ToArray();
        var configs = (a.Get("configs") ?? "off,on,on-sse41-setenv").Split(',');
        var times = new Dictionary<(string Config, int Threads, string Case), List<double>>();
        Console.WriteLine($"# oneDNN settings, speed: {rounds} interleaved rounds, load average {LoadAverage()}");
        for (int r = 0; r < rounds; r++)
            foreach (var t in threads)
                foreach (var c in configs)
                {
                    using var p = Process.Start(ChildStart(c, ["--speed", "--threads", t.ToString(Inv)]))!;
                    foreach (var line in p.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries))
                    {
                        var f = line.Split(',');
                        if (f.Length != 2 || !double.TryParse(f[1], NumberStyles.Float, Inv, out var ms)) continue;
                        var key = (c, t, f[0]);
                        if (!times.TryGetValue(key, out var list)) times[key] = list = [];
                        list.Add(ms);
                    }
                    p.WaitForExit();
                }
        var md = new StringBuilder("| case | threads | " + string.Join(" | ", configs.Select(c => c + " ms (min–max)")) + " | " +
            string.Join(" | ", configs.Skip(1).Select(c => $"speed-up {c} vs {configs[0]}")) + " |\n|---|---|" + string.Concat(Enumerable.Repeat("---|", configs.Length * 2 - 1)) + "\n");
        var csv = new StringBuilder("case,threads,setting,median_ms,min_ms,max_ms\n");
        foreach (var t in threads)
            foreach (var cs in times.Keys.Where(k => k.Threads == t).Select(k => k.Case).Distinct())
            {
                double Med(string c) => times.TryGetValue((c, t, cs), out var l) ? l.OrderBy(v => v).ElementAt(l.Count / 2) : double.NaN;
                md.Append($"| {cs} | {t} | ");
                foreach (var c in configs)
                {
                    var l = times.GetValueOrDefault((c, t, cs)) ?? [];
                    md.Append(l.Count == 0 ? "– | " : $"{Med(c):F0} ({l.Min():F0}–{l.Max():F0}) | ");
                    if (l.Count > 0) csv.Append(Inv, $"{cs},{t},{c},{Med(c):F1},{l.Min():F1},{l.Max():F1}\n");
                }
                foreach (var c in configs.Skip(1)) md.Append(Inv, $"{Med(configs[0]) / Med(c):F2}× | ");
                md.Append('\n');
            }
        File.WriteAllText(Path.Combine(a.Out, "onednn-speed.csv"), csv.ToString());
        Console.Write(md);
        Console.WriteLine($"load average after: {LoadAverage()}");
        return 0;
    }

    private static int SpeedChild(BenchArgs a)
    {
        var config = a.Get("config")!;
        torch.set_num_threads(a.Int("threads", 1));
        if (config == "on-sse41-setenv") ConvolutionBackend.CapOneDnnIsa("SSE41");
        ConvolutionBackend.SetOneDnn(Configs[config].OneDnn);
        manual_seed(0);
        using (var net = new MLNetExtensions.Transforms.TinyViM.TinyViMModel(MLNetExtensions.Transforms.TinyViM.TinyViMConfig.Named("Tiny"), 10, false))
        {
            using var x = torch.rand(64, 3, 64, 64);
            using var y = torch.randint(0, 10, 64);
            Console.WriteLine($"tinyvim-tiny-64px-b64-train,{BenchArgs.MedianMs(3, () => { using var s = torch.NewDisposeScope(); net.zero_grad(); nn.functional.cross_entropy(net.call(x), y).backward(); }).ToString("F2", Inv)}");
            net.eval();
            Console.WriteLine($"tinyvim-tiny-64px-b64-infer,{BenchArgs.MedianMs(3, () => { using var s = torch.NewDisposeScope(); using var ng = torch.no_grad(); net.call(x); }).ToString("F2", Inv)}");
        }
        manual_seed(0);
        using (var st = new MLNetExtensions.Transforms.SqueezeTime.SqueezeTimeModel(MLNetExtensions.Transforms.SqueezeTime.SqueezeTimeConfig.Tiny(numClasses: 4, frames: 8)))
        {
            using var x = torch.rand(new long[] { 16, 3, 8, 32, 32 });
            using var y = torch.randint(0, 4, 16);
            Console.WriteLine($"squeezetime-tiny-8x32-b16-train,{BenchArgs.MedianMs(3, () => { using var s = torch.NewDisposeScope(); st.zero_grad(); nn.functional.cross_entropy(st.call(x), y).backward(); }).ToString("F2", Inv)}");
            st.eval();
            Console.WriteLine($"squeezetime-tiny-8x32-b16-infer,{BenchArgs.MedianMs(3, () => { using var s = torch.NewDisposeScope(); using var ng = torch.no_grad(); st.call(x); }).ToString("F2", Inv)}");
        }
        return 0;
    }

    private static int Parent(BenchArgs a)
    {
        int iterations = a.Int("iterations", 1500), load = a.Int("load", 0);
        var threads = (a.Get("threads") ?? "1,2").Split(',').Select(int.Parse).ToArray();
        var configs = (a.Get("configs") ?? string.Join(",", Configs.Keys)).Split(',');
        foreach (var c in configs)
            if (!Configs.ContainsKey(c)) { Console.Error.WriteLine($"--configs: unknown '{c}' (known: {string.Join(", ", Configs.Keys)})"); return 2; }
        var self = Environment.ProcessPath!;
        var dll = typeof(OneDnnProbe).Assembly.Location;
        var rows = new List<string>();
        var md = new StringBuilder("| setting | threads | convolutions | faulty | fault rate | worst rel. error | faulty primitives | ms / iteration |\n|---|---|---|---|---|---|---|---|\n");
        Console.WriteLine($"# oneDNN probe: {iterations} iterations × {Shapes.Length} primitives per setting; load processes {load}; load average {LoadAverage()}");
        foreach (var c in configs)
            foreach (var t in threads)
            {
                var loaders = Enumerable.Range(0, load).Select(_ => StartLoad()).ToList();
                try
                {
                    var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
                    if (!self.EndsWith(Path.GetFileNameWithoutExtension(dll), StringComparison.Ordinal)) psi.ArgumentList.Add(dll);
                    foreach (var s in new[] { "onednn-probe", "--child", "--config", c, "--threads", t.ToString(Inv), "--iterations", iterations.ToString(Inv) }) psi.ArgumentList.Add(s);
                    if (a.Has("random")) psi.ArgumentList.Add("--random");
                    foreach (var (k, v) in Configs[c].Env) psi.Environment[k] = v;
                    using var p = Process.Start(psi)!;
                    var line = p.StandardOutput.ReadToEnd().Trim().Split('\n').Last();
                    p.WaitForExit();
                    // A crashed child (the fault can also abort the process) is a result, not a probe failure.
                    if (p.ExitCode != 0 || line.Split(',').Length < 7) line = $"{c},{t},0,0,NaN,crashed(exit {p.ExitCode}),0";
                    // child line: config,threads,total,faulty,worst,primitives,msPerIter,isaNote
                    rows.Add(line);
                    var f = line.Split(',');
                    double rate = double.Parse(f[2], Inv) == 0 ? double.NaN : double.Parse(f[3], Inv) / double.Parse(f[2], Inv);
                    md.Append($"| {f[0]} | {f[1]} | {f[2]} | {f[3]} | {rate:P3} | {double.Parse(f[4], Inv):E1} | {f[5].Replace(';', ' ')} | {f[6]} |\n");
                    Console.WriteLine(line);
                }
                finally { foreach (var l in loaders) { try { l.Kill(); } catch (InvalidOperationException) { } l.Dispose(); } }
            }
        var outDir = a.Out;
        File.WriteAllText(Path.Combine(outDir, "onednn-probe.csv"), "setting,threads,convolutions,faulty,worst_rel_error,faulty_primitives,ms_per_iteration\n" + string.Join("\n", rows) + "\n");
        Console.WriteLine();
        Console.Write(md);
        Console.WriteLine($"load average after: {LoadAverage()}; CSV: {Path.Combine(outDir, "onednn-probe.csv")}");
        return 0;
    }

    private static Process StartLoad() =>
        Process.Start(new ProcessStartInfo("/bin/sh", "-c \"while :; do :; done\"") { UseShellExecute = false })!;

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";

    /// <summary>The suite's convolution shapes (TinyViM, SqueezeTime, SSA/GeminiFusion heads, CoLA/TriDet 1-D) and a matmul.</summary>
    private static readonly (string Name, long[] X, long[] W, long Stride, long Pad, long Groups, bool Backward)[] Shapes =
    [
        ("conv2d-24to8-5x5-s2", [2, 24, 64, 64], [8, 24, 5, 5], 2, 2, 1, false),
        ("conv2d-12to10-3x3", [2, 12, 10, 5], [10, 12, 3, 3], 1, 1, 1, false),
        ("conv2d-stem-3to24-s2", [8, 3, 64, 64], [24, 3, 3, 3], 2, 1, 1, false),
        ("conv2d-dw-7x7", [2, 16, 16, 16], [16, 1, 7, 7], 1, 3, 16, false),
        ("conv2d-1x1-64to128", [4, 64, 16, 16], [128, 64, 1, 1], 1, 0, 1, false),
        ("conv2d-3x3-32to32-bwd", [4, 32, 16, 16], [32, 32, 3, 3], 1, 1, 1, true),
        ("conv3d-8to16-3x3x3", [2, 8, 4, 16, 16], [16, 8, 3, 3, 3], 1, 1, 1, false),
        ("conv1d-64to64-k3", [4, 64, 100], [64, 64, 3], 1, 1, 1, false),
        ("matmul-196x192x576", [64, 196, 192], [192, 576], 0, 0, 1, false),
    ];

    /// <summary>A random conv2d of the size range the suite uses (channels ≤ 64, kernels 1–7, strides 1–2, groups).</summary>
    private static (string, long[], long[], long, long, long, bool) RandomShape(Generator gen)
    {
        long R(long lo, long hi) => torch.randint(lo, hi + 1, [1], generator: gen).item<long>();
        long k = new long[] { 1, 3, 3, 5, 7 }[R(0, 4)], stride = R(1, 2), pad = k / 2;
        long cin = R(1, 64), cout = R(1, 64), groups = 1;
        if (R(0, 3) == 0) { groups = cin; cout = cin * R(1, 2); }
        long h = R(k, 64), w = R(k, 64), n = R(1, 8);
        var name = $"rand-conv2d-k{k}s{stride}{(groups > 1 ? "dw" : "")}";
        return (name, [n, cin, h, w], [cout, cin / groups, k, k], stride, pad, groups, false);
    }

    private static int Child(BenchArgs a)
    {
        var config = a.Get("config")!;
        int iterations = a.Int("iterations", 1500);
        torch.set_num_threads(a.Int("threads", 1));
        if (config == "on-sse41-setenv") ConvolutionBackend.CapOneDnnIsa("SSE41");
        ConvolutionBackend.SetOneDnn(Configs[config].OneDnn);
        bool random = a.Has("random");
        var gen = new Generator(20261207);
        var faulty = new Dictionary<string, int>();
        long total = 0, bad = 0; double worst = 0;
        var sw = Stopwatch.StartNew();
        for (int it = 0; it < iterations; it++)
        {
            foreach (var s in random ? [RandomShape(gen)] : Shapes)
            {
                using var scope = torch.NewDisposeScope();
                double err = RelError(s, gen);
                total++;
                if (double.IsNaN(err) || err > 1e-3)
                {
                    bad++; faulty[s.Name] = faulty.GetValueOrDefault(s.Name) + 1;
                    worst = double.IsNaN(err) ? double.NaN : double.IsNaN(worst) ? worst : Math.Max(worst, err);
                }
                else if (!double.IsNaN(worst)) worst = Math.Max(worst, err);
            }
        }
        var prims = faulty.Count == 0 ? "none" : string.Join(";", faulty.Select(kv => $"{kv.Key}×{kv.Value}"));
        Console.WriteLine(string.Join(",", config, a.Get("threads") ?? "1", total.ToString(Inv), bad.ToString(Inv),
            worst.ToString("E3", Inv), prims, (sw.Elapsed.TotalMilliseconds / iterations).ToString("F1", Inv)));
        return 0;
    }

    /// <summary>max |f32 − f64| / max |f64| of one primitive (and of its input/weight gradients when Backward).</summary>
    private static double RelError((string Name, long[] X, long[] W, long Stride, long Pad, long Groups, bool Backward) s, Generator gen)
    {
        var x = torch.randn(s.X, generator: gen);
        var w = torch.randn(s.W, generator: gen);
        Tensor Op(Tensor xi, Tensor wi) => s.X.Length switch
        {
            _ when s.Name.StartsWith("matmul", StringComparison.Ordinal) => xi.matmul(wi),
            3 => nn.functional.conv1d(xi, wi, stride: s.Stride, padding: s.Pad, groups: s.Groups),
            4 => nn.functional.conv2d(xi, wi, strides: [s.Stride, s.Stride], padding: [s.Pad, s.Pad], groups: s.Groups),
            _ => nn.functional.conv3d(xi, wi, strides: [s.Stride, s.Stride, s.Stride], padding: [s.Pad, s.Pad, s.Pad], groups: s.Groups),
        };
        static double Rel(Tensor f32, Tensor f64)
        {
            var d = (f32.to(float64) - f64).abs().max().item<double>();
            var m = f64.abs().max().item<double>();
            return d / Math.Max(m, 1e-12);
        }
        if (!s.Backward)
        {
            using var ng = torch.no_grad();
            return Rel(Op(x, w), Op(x.to(float64), w.to(float64)));
        }
        var g = torch.randn(Op(x, w).shape, generator: gen);
        (Tensor Y, Tensor Gx, Tensor Gw) Run(ScalarType t)
        {
            var xi = x.to(t).detach().clone().requires_grad_(true); var wi = w.to(t).detach().clone().requires_grad_(true);
            var y = Op(xi, wi);
            y.backward([g.to(t)]);
            return (y.detach(), xi.grad!, wi.grad!);
        }
        var r32 = Run(float32); var r64 = Run(float64);
        return new[] { Rel(r32.Y, r64.Y), Rel(r32.Gx, r64.Gx), Rel(r32.Gw, r64.Gw) }.Max();
    }
}

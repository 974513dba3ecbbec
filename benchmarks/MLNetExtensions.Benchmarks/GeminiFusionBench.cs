using System.Diagnostics;
using System.Globalization;
using MLNetExtensions.Core.Plotting;
using MLNetExtensions.Transforms.GeminiFusion;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Benchmarks;

/// <summary>
/// Scaling of one GeminiFusion layer (both directions, <see cref="GeminiFusionLayer"/>) against full bidirectional
/// cross-attention of the same width (8 heads, q from one modality, k/v from the other, out-projection and residual,
/// the N×N weights materialised as in a textbook/`nn.MultiheadAttention` implementation), at N tokens and width C.
/// Forward only, batch 1, one thread, inference mode. Each (kind, C, N) runs in its own child process so that its
/// peak memory is the process's high-water mark (VmHWM) after the forward minus before it (inputs and weights
/// already allocated). Usage: <c>-- geminifusion [--dims 64,512] [--tokens 64,128,256,512,1024,2048,4096] [--repeats 5] [--out DIR]</c>.
/// </summary>
internal static class GeminiFusionBench
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static int Run(string[] argv)
    {
        var a = new BenchArgs(argv);
        if (a.Has("child")) return Child(a);
        var dims = (a.Get("dims") ?? "64,512").Split(',').Select(int.Parse).ToArray();
        var tokens = (a.Get("tokens") ?? "64,128,256,512,1024,2048,4096").Split(',').Select(int.Parse).ToArray();
        int reps = a.Int("repeats", 5);
        var outDir = a.Out;
        Console.WriteLine($"# GeminiFusion vs full cross-attention ({Environment.ProcessorCount} cores, 1 thread, batch 1, forward, {reps} repeats, medians; load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]})\n");
        Console.WriteLine("| C | N | N/C | fusion ms | cross-attn ms | time ratio cross/fusion | fusion peak MB | cross-attn peak MB | memory ratio | analytic MACs ratio cross/fusion |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        var results = new List<(int C, int N, double Tf, double Tc, double Mf, double Mc)>();
        foreach (var c in dims)
            foreach (var n in tokens)
            {
                var (tf, mf) = Spawn("fusion", c, n, reps);
                var (tc, mc) = Spawn("cross", c, n, reps);
                results.Add((c, n, tf, tc, mf, mc));
                double macF = 18.0 * n * c * c + 8.0 * n * c, macC = 8.0 * n * c * c + 4.0 * n * (double)n * c;
                Console.WriteLine(string.Format(Inv, "| {0} | {1} | {2:F1} | {3:F2} | {4:F2} | {5:F2} | {6:F1} | {7:F1} | {8:F2} | {9:F2} |",
                    c, n, n / (double)c, tf, tc, tc / tf, mf, mc, mf > 0 ? mc / mf : double.NaN, macC / macF));
            }
        Console.WriteLine();
        foreach (var c in dims)
        {
            var rows = results.Where(r => r.C == c).OrderBy(r => r.N).ToList();
            // Measured crossover: the first N where full cross-attention becomes slower, interpolated on log N.
            string cross = "none in range";
            for (int i = 1; i < rows.Count; i++)
            {
                double r0 = Math.Log(rows[i - 1].Tc / rows[i - 1].Tf), r1 = Math.Log(rows[i].Tc / rows[i].Tf);
                if (r0 < 0 && r1 >= 0)
                {
                    double t = -r0 / (r1 - r0);
                    cross = (Math.Exp(Math.Log(rows[i - 1].N) + t * (Math.Log(rows[i].N) - Math.Log(rows[i - 1].N)))).ToString("F0", Inv);
                    break;
                }
            }
            if (rows.Count > 0 && rows[0].Tc >= rows[0].Tf && cross == "none in range") cross = $"below {rows[0].N} (cross-attention already slower)";
            Console.WriteLine($"- C = {c}: measured time crossover N ≈ {cross}; the note's MAC rule N ≈ 2.5C = {2.5 * c:F0}.");
            var ch = new PngChart { Title = $"GeminiFusion vs full cross-attention, C = {c} (forward, 1 thread)", XLabel = "tokens N", YLabel = "ms", LogX = true, LogY = true };
            ch.AddLine("GeminiFusion", rows.Select(r => (double)r.N), rows.Select(r => r.Tf));
            ch.AddLine("full cross-attention", rows.Select(r => (double)r.N), rows.Select(r => r.Tc));
            ch.Save(Path.Combine(outDir, $"geminifusion_scaling_time_c{c}.png"));
            var mem = new PngChart { Title = $"Peak extra memory of the forward, C = {c}", XLabel = "tokens N", YLabel = "MB", LogX = true, LogY = true };
            mem.AddLine("GeminiFusion", rows.Select(r => (double)r.N), rows.Select(r => Math.Max(r.Mf, 0.01)));
            mem.AddLine("full cross-attention", rows.Select(r => (double)r.N), rows.Select(r => Math.Max(r.Mc, 0.01)));
            mem.Save(Path.Combine(outDir, $"geminifusion_scaling_memory_c{c}.png"));
        }
        Console.WriteLine($"\nPlots: {outDir}/geminifusion_scaling_{{time,memory}}_c{{C}}.png");
        return 0;
    }

    private static (double Ms, double PeakMb) Spawn(string kind, int c, int n, int reps)
    {
        var self = Environment.ProcessPath!;
        var dll = typeof(GeminiFusionBench).Assembly.Location;
        var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") psi.ArgumentList.Add(dll);
        foreach (var s in new[] { "geminifusion", "--child", kind, "--c", c.ToString(Inv), "--n", n.ToString(Inv), "--repeats", reps.ToString(Inv) }) psi.ArgumentList.Add(s);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"child {kind} C={c} N={n} failed: {err}");
        var parts = output.Trim().Split(' ');
        return (double.Parse(parts[0], Inv), double.Parse(parts[1], Inv));
    }

    private static double HighWaterMb() =>
        double.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], Inv) / 1024.0;

    private static int Child(BenchArgs a)
    {
        torch.set_num_threads(1);
        string kind = a.Get("child")!;
        int c = a.Int("c", 64), n = a.Int("n", 256), reps = a.Int("repeats", 5);
        manual_seed(0);
        var x0 = randn(1, n, c); var x1 = randn(1, n, c);
        Func<Tensor[]> forward;
        if (kind == "fusion")
        {
            var layer = new GeminiFusionLayer(c, 2, 8);
            layer.eval();
            forward = () => layer.call(new[] { x0, x1 });
        }
        else
        {
            var cross = new[] { new FullCrossAttention(c, 8), new FullCrossAttention(c, 8) };
            forward = () => new[] { cross[0].call(x0, x1), cross[1].call(x1, x0) };
        }
        // Warm up on 8 tokens (lazy LibTorch initialisation, kernel selection) so the high-water mark below is the forward's own.
        var w0 = x0.narrow(1, 0, Math.Min(8, n)); var w1 = x1.narrow(1, 0, Math.Min(8, n));
        var (s0, s1) = (x0, x1);
        (x0, x1) = (w0, w1);
        using (torch.inference_mode())
        using (var scope = NewDisposeScope()) forward();
        (x0, x1) = (s0, s1);
        double before = HighWaterMb();
        using (torch.inference_mode())
        using (var scope = NewDisposeScope()) forward();
        double peak = HighWaterMb() - before;
        double ms = BenchArgs.MedianMs(reps, () => { using var m = torch.inference_mode(); using var s = NewDisposeScope(); forward(); });
        Console.WriteLine(string.Format(Inv, "{0:F4} {1:F3}", ms, peak));
        return 0;
    }

    /// <summary>Query tokens of one modality attending to all N tokens of the other: 8-head attention, out-projection, residual.</summary>
    private sealed class FullCrossAttention : nn.Module<Tensor, Tensor, Tensor>
    {
        private readonly TorchSharp.Modules.Linear q, k, v, o;
        private readonly int _heads;
        private readonly Scalar _scale;
        public FullCrossAttention(int dim, int heads) : base(nameof(FullCrossAttention))
        {
            q = nn.Linear(dim, dim); k = nn.Linear(dim, dim); v = nn.Linear(dim, dim); o = nn.Linear(dim, dim);
            _heads = heads; _scale = (1.0 / Math.Sqrt(dim / (double)heads)).ToScalar();
            RegisterComponents();
        }
        public override Tensor forward(Tensor xa, Tensor xb)
        {
            long b = xa.shape[0], n = xa.shape[1], c = xa.shape[2], d = c / _heads;
            var qh = q.call(xa).view(b, n, _heads, d).transpose(1, 2).mul(_scale);
            var kh = k.call(xb).view(b, -1, _heads, d).transpose(1, 2);
            var vh = v.call(xb).view(b, -1, _heads, d).transpose(1, 2);
            var w = qh.matmul(kh.transpose(-2, -1)).softmax(-1); // (B, h, N, N): the quadratic part
            var y = w.matmul(vh).transpose(1, 2).reshape(b, n, c);
            return xa + o.call(y);
        }
    }
}

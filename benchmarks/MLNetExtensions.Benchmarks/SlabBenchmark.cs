using System.Diagnostics;
using MLNetExtensions.Core.Plotting;
using MLNetExtensions.Transforms.Layers;
using MLNetExtensions.Transforms.Slab;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Benchmarks;

/// <summary>
/// SLAB inference latency, measured in one run (1 intra-op thread, interleaved repetitions, lower-quartile times):
/// (1) whole SLAB-DeiT with LayerNorm vs PRepBN served folded vs PRepBN unfolded (eval RepBN), (2) one SLA module
/// vs one global softmax attention module at 64…4096 tokens. Usage: <c>dotnet run -c Release -- slab [--out DIR]</c>.
/// </summary>
internal static class SlabBenchmark
{
    public static void Run(string[] args)
    {
        int o = Array.IndexOf(args, "--out");
        string outDir = o >= 0 && o + 1 < args.Length ? args[o + 1] : "out";
        torch.set_num_threads(1); // with other jobs on the cores, OpenMP sync noise dwarfs the op costs otherwise
        Console.WriteLine($"SLAB benchmark: torch threads {torch.get_num_threads()}, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]} on {Environment.ProcessorCount} cores");
        using var noGrad = torch.inference_mode();
        if (args.Contains("--small")) { SmallTokens(args); return; }
        Models();
        Attention(outDir);
    }

    // Lower quartile of interleaved repetitions: each round times every candidate once, so load spikes hit all alike.
    private static double[] Time(int rounds, params Action[] candidates)
    {
        foreach (var c in candidates) { c(); c(); }
        var t = candidates.Select(_ => new List<double>()).ToArray();
        for (int r = 0; r < rounds; r++)
            for (int i = 0; i < candidates.Length; i++)
            {
                var sw = Stopwatch.StartNew();
                candidates[i]();
                t[i].Add(sw.Elapsed.TotalMilliseconds);
            }
        return t.Select(l => { l.Sort(); return l[l.Count / 4]; }).ToArray();
    }

    private static void Models()
    {
        // Method note §7c: SLAB-DeiT dim 64, depth 4, 2 heads, 196 tokens (28×28, patch 2).
        var cfg = new SlabDeitConfig { Name = "bench", ImgSize = 28, PatchSize = 2, EmbedDim = 64, Depth = 4, NumHeads = 2, NumClasses = 10 };
        torch.manual_seed(0);
        using var ln = new SlabDeit(cfg with { Norm = TokenNormKind.LayerNorm });
        using var unfolded = new SlabDeit(cfg with { Norm = TokenNormKind.PRepBN });
        using var folded = new SlabDeit(cfg with { Norm = TokenNormKind.PRepBN });
        ln.eval(); unfolded.eval();
        folded.load_state_dict(unfolded.state_dict());
        folded.SwitchToDeploy();
        Console.WriteLine();
        Console.WriteLine("Whole SLAB-DeiT (64 wide, 4 blocks, SLA, 196 tokens), forward latency:");
        Console.WriteLine("| batch | LayerNorm (ms) | PRepBN folded (ms) | PRepBN unfolded (ms) | folded ÷ LN | unfolded ÷ LN |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (int b in new[] { 1, 32 })
        {
            using var x = torch.randn(b, 3, 28, 28);
            var t = Time(b == 1 ? 200 : 20, () => ln.call(x).Dispose(), () => folded.call(x).Dispose(), () => unfolded.call(x).Dispose());
            Console.WriteLine($"| {b} | {t[0]:F3} | {t[1]:F3} | {t[2]:F3} | {t[1] / t[0]:F2} | {t[2] / t[0]:F2} |");
        }

        // The norm alone on a (64, 196, 64) token tensor.
        using var lnOnly = nn.LayerNorm(64);
        using var repbn = new RepBN(64);
        repbn.eval();
        using var tokens = torch.randn(64, 196, 64);
        var (a, bias) = repbn.GetAffine();
        using (a) using (bias)
        {
            var tn = Time(50, () => lnOnly.call(tokens).Dispose(), () => repbn.call(tokens).Dispose(), () => tokens.mul(a).add_(bias).Dispose());
            Console.WriteLine($"Norm alone on (64, 196, 64): LayerNorm {tn[0]:F3} ms, RepBN unfolded {tn[1]:F3} ms, folded per-channel affine {tn[2]:F3} ms (absorbed into the next Linear when folded: 0).");
        }
    }

    /// <summary>
    /// Issue 20 item 4: at SLAB-DeiT-Tiny width (C 192, 3 heads), batch 1, 49…3136 tokens — folded PRepBN + SLA (the
    /// folded norm is inside qkv, so: the SLA module alone) vs LayerNorm + softmax attention, ours, then the same two in
    /// Debian PyTorch 1.13 (python/slab_bench.py, the official SLA formulation), same kernels (1 thread, no oneDNN op
    /// involved: linear layers, bmm and a depthwise conv).
    /// </summary>
    private static void SmallTokens(string[] args)
    {
        const int dim = 192, heads = 3;
        int[] grids = [7, 14, 28, 56];
        Console.WriteLine($"\nFolded PRepBN + SLA vs LayerNorm + softmax, C = {dim}, {heads} heads, batch 1 (lower quartile of interleaved rounds, ms):");
        var ours = new Dictionary<int, (double Sla, double Soft)>();
        foreach (int g in grids)
        {
            int n = g * g;
            torch.manual_seed(0);
            using var sla = new SimplifiedLinearAttention(dim, heads, g, g);
            using var ln = nn.LayerNorm(dim);
            using var soft = new SoftmaxAttention(dim, heads, true, 0.0, 0.0);
            sla.eval(); ln.eval(); soft.eval();
            using var x = torch.randn(1, n, dim);
            int rounds = n <= 256 ? 300 : n <= 1024 ? 60 : 12;
            var t = Time(rounds, () => sla.call(x).Dispose(), () => { using var y = ln.call(x); soft.call(y).Dispose(); });
            ours[n] = (t[0], t[1]);
        }
        var peer = new Dictionary<int, (double Sla, double Soft)>();
        var r = Pairs.PairsCommand.RunChild(Pairs.PairsCommand.PeerProcess("slab_bench.py",
            ["--attention", "--dim", dim.ToString(), "--heads", heads.ToString(), "--tokens", string.Join(",", grids.Select(g => g * g)), "--threads", "1"]));
        foreach (var line in r.Stdout.Split('\n').Where(l => l.StartsWith("attn ")))
        {
            var kv = line.Split(' ').Skip(1).Select(p => p.Split('=')).ToDictionary(p => p[0], p => p[1]);
            peer[int.Parse(kv["N"])] = (double.Parse(kv["sla_ms"], System.Globalization.CultureInfo.InvariantCulture),
                double.Parse(kv["ln_softmax_ms"], System.Globalization.CultureInfo.InvariantCulture));
        }
        if (peer.Count == 0) Console.WriteLine($"(peer failed: {r.Stderr.Trim().Split('\n').LastOrDefault()})");
        Console.WriteLine("| N tokens | ours SLA | ours LN+softmax | ours softmax ÷ SLA | PyTorch 1.13 SLA | PyTorch LN+softmax | PyTorch softmax ÷ SLA | ours SLA ÷ PyTorch SLA time |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (var (n, o) in ours)
        {
            var p = peer.TryGetValue(n, out var pv) ? pv : (double.NaN, double.NaN);
            Console.WriteLine(FormattableString.Invariant($"| {n} | {o.Sla:F3} | {o.Soft:F3} | {o.Soft / o.Sla:F2} | {p.Item1:F3} | {p.Item2:F3} | {p.Item2 / p.Item1:F2} | {o.Sla / p.Item1:F2} |"));
        }
        Console.WriteLine($"load average after: {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
    }

    private static void Attention(string outDir)
    {
        const int dim = 64, heads = 2, batch = 1;
        Console.WriteLine();
        Console.WriteLine($"One attention module, C = {dim}, {heads} heads, batch {batch}, global over N tokens (qkv + proj included):");
        Console.WriteLine("| N tokens | SLA (ms) | softmax (ms) | softmax ÷ SLA |");
        Console.WriteLine("|---|---|---|---|");
        var ns = new List<double>(); var sla = new List<double>(); var sm = new List<double>();
        foreach (int g in new[] { 8, 12, 16, 24, 32, 48, 64 })
        {
            int n = g * g;
            torch.manual_seed(0);
            using var s = new SimplifiedLinearAttention(dim, heads, g, g);
            using var f = new SoftmaxAttention(dim, heads, true, 0.0, 0.0);
            s.eval(); f.eval();
            using var x = torch.randn(batch, n, dim);
            int rounds = n <= 256 ? 200 : n <= 1024 ? 40 : 8;
            var t = Time(rounds, () => s.call(x).Dispose(), () => f.call(x).Dispose());
            Console.WriteLine($"| {n} | {t[0]:F3} | {t[1]:F3} | {t[1] / t[0]:F2} |");
            ns.Add(n); sla.Add(t[0]); sm.Add(t[1]);
        }
        Directory.CreateDirectory(outDir);
        var png = Path.Combine(outDir, "slab-attention-latency.png");
        new PngChart
        {
            Title = $"SLA vs softmax attention latency (C={dim}, {heads} heads, batch {batch}, 1 thread)",
            XLabel = "tokens N", YLabel = "ms per forward (lower quartile)", LogX = true, LogY = true,
        }
            .AddLine("SLA (linear in N)", ns, sla)
            .AddLine("softmax (quadratic in N)", ns, sm)
            .Save(png);
        Console.WriteLine($"wrote {png}");
    }
}

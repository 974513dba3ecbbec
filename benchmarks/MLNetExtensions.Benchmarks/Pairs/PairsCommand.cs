using System.Diagnostics;
using System.Globalization;
using System.Text;
using MLNetExtensions.Core.Plotting;
using MLNetExtensions.Core.Torch;
using TorchSharp;

namespace MLNetExtensions.Benchmarks.Pairs;

/// <summary>
/// <c>-- pairs</c>: the side-by-side record of issue 20. For every registered <see cref="PeerPair"/> and mode, in
/// interleaved rounds (each round runs the four settings once, so load spikes hit all alike): ours with ATen
/// convolutions, ours with oneDNN, the peer (Debian PyTorch 1.13) with oneDNN off and on — each in its own child process
/// (the backend is fixed per process), one intra-op thread each. Reports median and min–max items/s, the ratios in the
/// issue's three columns (same kernels off, same kernels on, each side's default = ours auto vs PyTorch on), the load
/// average before/after, and the output difference; writes <c>pairs.md</c> and <c>pairs.png</c> under <c>--out</c>.
/// Usage: <c>pairs [--rounds 5] [--reps 3] [--only id,id] [--modes infer,train] [--out DIR]</c>.
/// The hidden <c>pair-side --pair ID --mode M --work DIR --reps N</c> is our side's child process.
/// </summary>
internal static class PairsCommand
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private sealed record Setting(string Label, bool Ours, bool OneDnn);

    private static readonly Setting[] Settings =
    [
        new("ours ATen", true, false), new("ours oneDNN", true, true),
        new("peer oneDNN off", false, false), new("peer oneDNN on", false, true),
    ];

    public static int Run(string[] argv)
    {
        var a = new BenchArgs(argv);
        int rounds = a.Int("rounds", 5), reps = a.Int("reps", 3);
        var only = a.Get("only")?.Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var modes = a.Get("modes")?.Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var pairs = PairRegistry.All.Where(p => only == null || only.Contains(p.Id)).ToList();
        if (pairs.Count == 0)
        {
            Console.Error.WriteLine($"pairs: no pair matches --only; registered: {string.Join(", ", PairRegistry.All.Select(p => p.Id))}");
            return 2;
        }
        if (!File.Exists(PythonPath)) { Console.Error.WriteLine($"pairs: {PythonPath} (Debian python3-torch) is missing."); return 2; }
        torch.set_num_threads(1);
        ConvolutionBackend.EnsureCorrect(); // the parent computes our side of the output checks: correct kernels
        string load0 = LoadAverage();
        // Our "default" is what ConvolutionBackend's auto policy picks on this machine (decided in a child: the
        // parent's own choice must not depend on the order in which things ran).
        string autoDecision = RunChild(OurSide("auto-probe", "infer", "", 0, "auto")).Stdout.Trim();
        bool autoOn = autoDecision.StartsWith("oneDNN on", StringComparison.Ordinal);
        Console.WriteLine($"# Side-by-side record (`-- pairs`): {rounds} interleaved rounds × {reps} timed reps, 1 thread each");
        Console.WriteLine($"ours: TorchSharp 0.107 / LibTorch 2.10; peer: Debian PyTorch {PeerTorchVersion()}; our auto policy here: {autoDecision}");
        Console.WriteLine($"load average before: {load0} ({Environment.ProcessorCount} cores)\n");

        var rows = new List<ResultRow>();
        foreach (var pair in pairs)
        {
            var work = Directory.CreateTempSubdirectory("pairs-" + pair.Id).FullName;
            try
            {
                pair.Prepare(work);
                double? diff = pair.OutputDifference(work);
                foreach (var mode in pair.Modes.Where(m => modes == null || modes.Contains(m)))
                {
                    var t = Settings.Select(_ => new List<double>()).ToArray();
                    for (int r = 0; r < rounds; r++)
                        for (int i = 0; i < Settings.Length; i++)
                        {
                            var s = Settings[i];
                            var psi = s.Ours
                                ? OurSide(pair.Id, mode, work, reps, s.OneDnn ? "on" : "off")
                                : PeerSide(pair, work, mode, s.OneDnn, reps);
                            var res = RunChild(psi);
                            t[i].Add(ParseItems(res, $"{pair.Id} {mode} {s.Label}"));
                        }
                    var row = new ResultRow(pair.Name, mode, t.Select(l => new Stat(l)).ToArray(), diff, autoOn);
                    rows.Add(row);
                    Console.Error.WriteLine($"[pairs] {pair.Id} {mode}: " + string.Join(", ", Settings.Select((s, i) => $"{s.Label} {row.Stats[i].Median:F1}")));
                }
            }
            finally { try { Directory.Delete(work, true); } catch (IOException) { } }
        }
        string load1 = LoadAverage();

        var md = new StringBuilder();
        md.AppendLine($"Ours ÷ official in items/s (median of {rounds} interleaved rounds, {reps} timed reps each, 1 thread each); load average {load0} before, {load1} after, on {Environment.ProcessorCount} cores. Our auto policy here: {autoDecision}.");
        md.AppendLine();
        md.AppendLine("| model | mode | both oneDNN off | both oneDNN on | each side's default (ours auto, PyTorch on) | ours ATen / oneDNN items/s (min–max) | peer off / on items/s (min–max) | max abs output diff |");
        md.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var r in rows)
        {
            var s = r.Stats;
            md.AppendLine(string.Format(Inv, "| {0} | {1} | {2:F2} | {3:F2} | {4:F2} | {5} / {6} | {7} / {8} | {9} |",
                r.Name, r.Mode, r.Ratio(0), r.Ratio(1), r.Ratio(2),
                s[0], s[1], s[2], s[3], r.Diff is double d ? d.ToString("E1", Inv) : "–"));
        }
        Console.WriteLine(md);
        var outDir = a.Out;
        File.WriteAllText(Path.Combine(outDir, "pairs.md"), md.ToString());
        var png = Path.Combine(outDir, "pairs.png");
        // Dots per column kind side by side at each row (PngChart has no bar series); the row numbers are the table's order.
        var chart = new PngChart { Title = "Ours ÷ official PyTorch (items/s), 1 thread each; 1.0 = parity", XLabel = "table row (pair, mode)", YLabel = "ratio" };
        string[] kinds = ["both oneDNN off", "both oneDNN on", "each side's default"];
        for (int k = 0; k < kinds.Length; k++)
            chart.AddScatter(kinds[k], rows.Select((_, i) => i + 1 + (k - 1) * 0.15), rows.Select(r => r.Ratio(k)));
        chart.AddLine("parity", [0.5, rows.Count + 0.5], [1.0, 1.0]);
        chart.Save(png);
        Console.WriteLine($"wrote {Path.Combine(outDir, "pairs.md")} and {png}");
        return 0;
    }

    /// <summary>Hidden child mode: our side of one pair under the backend set by MLNETEXT_ONEDNN; prints items_per_s=.</summary>
    public static int Side(string[] argv)
    {
        var a = new BenchArgs(argv);
        torch.set_num_threads(1);
        ConvolutionBackend.EnsureCorrect();
        string id = a.Get("pair") ?? throw new ArgumentException("pair-side: --pair is required");
        if (id == "auto-probe") { Console.WriteLine(ConvolutionBackend.Decision); return 0; }
        var pair = PairRegistry.All.FirstOrDefault(p => p.Id == id) ?? throw new ArgumentException($"pair-side: unknown pair '{id}'");
        Console.Error.WriteLine($"[pair-side] {id}: {ConvolutionBackend.Decision}");
        double ips = pair.MeasureOurs(a.Get("work")!, a.Get("mode")!, a.Int("reps", 3));
        Console.WriteLine(string.Format(Inv, "items_per_s={0:F4}", ips));
        return 0;
    }

    private sealed record ResultRow(string Name, string Mode, Stat[] Stats, double? Diff, bool AutoOn)
    {
        /// <summary>Column k of the issue's table: 0 both off, 1 both on, 2 each side's default (ours auto vs PyTorch on).</summary>
        public double Ratio(int k) => k switch
        {
            0 => Stats[0].Median / Stats[2].Median,
            1 => Stats[1].Median / Stats[3].Median,
            _ => (AutoOn ? Stats[1].Median : Stats[0].Median) / Stats[3].Median,
        };
    }

    private sealed class Stat(List<double> v)
    {
        public double Median { get; } = v.OrderBy(x => x).ElementAt(v.Count / 2);
        public double Min { get; } = v.Min();
        public double Max { get; } = v.Max();
        public override string ToString() => string.Format(Inv, "{0:G3} ({1:G3}–{2:G3})", Median, Min, Max);
    }

    internal const string PythonPath = "/usr/bin/python3";

    /// <summary>Folder of the peer scripts (copied next to the benchmark binary).</summary>
    internal static string PythonDir => Path.Combine(AppContext.BaseDirectory, "python");

    private static ProcessStartInfo OurSide(string id, string mode, string work, int reps, string oneDnn)
    {
        // Re-invoke this benchmark: the apphost when there is one, else `dotnet <this dll>`.
        var exe = Environment.ProcessPath!;
        var psi = new ProcessStartInfo(exe);
        if (Path.GetFileNameWithoutExtension(exe) == "dotnet") psi.ArgumentList.Add(typeof(PairsCommand).Assembly.Location);
        foreach (var s in new[] { "pair-side", "--pair", id, "--mode", mode, "--work", work, "--reps", reps.ToString(Inv) }) psi.ArgumentList.Add(s);
        psi.Environment["MLNETEXT_ONEDNN"] = oneDnn;
        return OneThread(psi);
    }

    private static ProcessStartInfo PeerSide(PeerPair pair, string work, string mode, bool oneDnn, int reps)
    {
        var (script, args) = pair.Peer(work, mode, oneDnn, reps);
        return PeerProcess(script, args);
    }

    /// <summary>A python3 child running <paramref name="script"/> (under python/) with one thread.</summary>
    internal static ProcessStartInfo PeerProcess(string script, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(PythonPath);
        psi.ArgumentList.Add(Path.Combine(PythonDir, script));
        foreach (var s in args) psi.ArgumentList.Add(s);
        return OneThread(psi);
    }

    private static ProcessStartInfo OneThread(ProcessStartInfo psi)
    {
        psi.RedirectStandardOutput = true; psi.RedirectStandardError = true; psi.UseShellExecute = false;
        psi.Environment["OMP_NUM_THREADS"] = "1"; psi.Environment["MKL_NUM_THREADS"] = "1";
        return psi;
    }

    internal sealed record ChildResult(int ExitCode, string Stdout, string Stderr);

    /// <summary>Runs a child to completion (stdout and stderr read concurrently).</summary>
    internal static ChildResult RunChild(ProcessStartInfo psi)
    {
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return new ChildResult(p.ExitCode, stdout, err.Result);
    }

    internal static double ParseItems(ChildResult r, string what)
    {
        var line = r.Stdout.Split('\n').LastOrDefault(l => l.StartsWith("items_per_s=", StringComparison.Ordinal));
        if (r.ExitCode != 0 || line == null)
            throw new InvalidOperationException($"pairs: {what} failed (exit {r.ExitCode}): {r.Stderr.Trim().Split('\n').LastOrDefault()}");
        return double.Parse(line["items_per_s=".Length..].Trim(), Inv);
    }

    private static string PeerTorchVersion()
    {
        var psi = new ProcessStartInfo(PythonPath, "-c \"import torch; print(torch.__version__)\"") { RedirectStandardOutput = true, RedirectStandardError = true };
        var r = RunChild(psi);
        return r.ExitCode == 0 ? r.Stdout.Trim() : "?";
    }

    private static string LoadAverage() => string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
}

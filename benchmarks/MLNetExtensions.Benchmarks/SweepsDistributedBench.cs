using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using MLNetExtensions.Testing;

namespace MLNetExtensions.Benchmarks;

/// <summary>
/// The example sweep (examples/Sweeps.Distributed, "mlp": 2 learning rates × 2 widths × 2 seeds = 8 small TorchSharp
/// trainings, 1 torch thread each) in process, then on an Orleans cluster on loopback with 1 and with 2 worker
/// processes. Reports the sweep's wall time (clock started once the workers joined), the trials' own time, the ratio
/// 1 → 2 workers, and the scheduling overhead per trial: (wall − the busiest worker's trial time) / its trials, i.e.
/// the time per trial that the critical worker spent not running a trial (dispatch, polling, result hand-over).
/// Then the same with the "toy" sweep (8 trials that sleep --toy-ms, no CPU), which isolates the scheduling from the
/// competition for cores. Usage: -- sweeps-distributed [--steps 300] [--seeds 2] [--toy-ms 1000]
/// </summary>
internal static class SweepsDistributedBench
{
    public static int Run(string[] argv)
    {
        var a = new BenchArgs(argv);
        int steps = a.Int("steps", 300), seeds = a.Int("seeds", 2), toyMs = a.Int("toy-ms", 1000);
        var dll = ExampleDll();
        var dir = Directory.CreateTempSubdirectory("mlx-sweep-bench").FullName;
        string mlp = $"--Sweep:Name=mlp --Sweep:Steps={steps} --Sweep:Seeds={seeds}", toy = $"--Sweep:Name=toy --Sweep:Seeds=2 --Sweep:ToyMilliseconds={toyMs}";
        foreach (var (title, sweep) in new[] { ($"mlp: 8 TorchSharp trainings of {steps} steps, 1 torch thread each", mlp), ($"toy: 8 trials sleeping {toyMs} ms", toy) })
        {
            Console.WriteLine($"\n### {title}\nload average before: {LoadAverage()}");
            var rows = new List<(string Mode, int Workers, Sweep S)>
            {
                ("in process", 0, InProcess(dll, dir, sweep)),
                ("Orleans", 1, Cluster(dll, dir, sweep, 1)),
                ("Orleans", 2, Cluster(dll, dir, sweep, 2)),
            };
            Console.WriteLine($"load average after: {LoadAverage()}\n");
            Table(rows);
        }
        Directory.Delete(dir, recursive: true);
        return 0;
    }

    private static void Table(List<(string Mode, int Workers, Sweep S)> rows)
    {
        Console.WriteLine("| executor | worker processes | trials | wall (s) | Σ trial time (s) | median trial (s) | busiest worker: trials, time (s) | overhead per trial (s) |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var (mode, workers, s) in rows)
        {
            double overhead = (s.Wall - s.BusiestSeconds) / s.BusiestTrials;
            Console.WriteLine(FormattableString.Invariant($"| {mode} | {(workers == 0 ? "–" : workers.ToString())} | {s.Trials} | {s.Wall:F2} | {s.TrialSeconds:F2} | {s.Median:F2} | {s.BusiestTrials}, {s.BusiestSeconds:F2} | {overhead:F3} |"));
        }
        Console.WriteLine(FormattableString.Invariant($"\nwall time 1 → 2 workers: {rows[1].S.Wall / rows[2].S.Wall:F2}× faster"));
    }

    private sealed record Sweep(double Wall, int Trials, double TrialSeconds, double BusiestSeconds, int BusiestTrials, double Median);

    private static Sweep InProcess(string dll, string dir, string sweep)
    {
        var p = Start(dll, $"--in-process {sweep} --Sweep:TorchThreads=1 --Sweep:Results={Path.Combine(dir, $"inproc-{Guid.NewGuid():N}.csv")}");
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return Parse(output, p.ExitCode);
    }

    private static Sweep Cluster(string dll, string dir, string sweep, int workers)
    {
        var ports = LoopbackPorts.Free(workers + 1);
        string common = $"--SweepCluster:ClusterId=bench-{Guid.NewGuid():N} --SweepCluster:PrimarySiloEndpoint=127.0.0.1:{ports[0]} {sweep}";
        var coordinator = Start(dll, $"--coordinator --SweepCluster:SiloPort={ports[0]} {common} --Sweep:WaitForWorkers={workers} --Sweep:Results={Path.Combine(dir, $"cluster-{Guid.NewGuid():N}.csv")}");
        var workerProcesses = Enumerable.Range(1, workers)
            .Select(i => Start(dll, $"--worker --SweepCluster:SiloPort={ports[i]} {common} --SweepCluster:Worker:Name=w{i} --SweepCluster:Worker:TorchThreadsPerTrial=1")).ToArray();
        foreach (var w in workerProcesses) { w.BeginOutputReadLine(); w.BeginErrorReadLine(); } // keep the pipes drained
        var output = coordinator.StandardOutput.ReadToEnd();
        coordinator.WaitForExit();
        foreach (var w in workerProcesses) { w.Kill(); w.WaitForExit(); w.Dispose(); }
        return Parse(output, coordinator.ExitCode);
    }

    private static Sweep Parse(string output, int exit)
    {
        var m = Regex.Match(output, @"SWEEP wall_s=([\d.]+) trials=(\d+) trial_s=([\d.]+) busiest_s=([\d.]+) busiest_n=(\d+) median_s=([\d.]+)");
        if (exit != 0 || !m.Success) throw new InvalidOperationException($"The sweep failed (exit {exit}):\n{output}");
        double D(int i) => double.Parse(m.Groups[i].Value, CultureInfo.InvariantCulture);
        return new Sweep(D(1), int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), D(3), D(4), int.Parse(m.Groups[5].Value, CultureInfo.InvariantCulture), D(6));
    }

    private static Process Start(string dll, string arguments)
    {
        var psi = new ProcessStartInfo("dotnet", $"\"{dll}\" {arguments}") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.Environment["Logging__LogLevel__Default"] = "Warning";
        psi.Environment["Logging__LogLevel__MLNetExtensions"] = "Warning";
        psi.Environment["Logging__LogLevel__Program"] = "Warning";
        var p = Process.Start(psi)!;
        return p;
    }

    private static string ExampleDll()
    {
        var cfg = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')).Parent!.Name;
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            var p = Path.Combine(d.FullName, "examples", "Sweeps.Distributed", "bin", cfg, "net10.0", "Sweeps.Distributed.dll");
            if (File.Exists(p)) return p;
        }
        throw new FileNotFoundException("examples/Sweeps.Distributed was not built (the benchmarks project builds it first).");
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}

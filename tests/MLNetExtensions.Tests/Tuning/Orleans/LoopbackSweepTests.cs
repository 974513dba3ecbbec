using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using MLNetExtensions.Tests.Infrastructure;
using MLNetExtensions.Testing;
using Xunit;

namespace MLNetExtensions.Tests.Tuning.Orleans;

/// <summary>
/// The example app as separate processes on loopback: a coordinator and two workers; one worker is SIGKILLed while it
/// runs a trial; the sweep still completes with every (setting, repeat) once in the CSV.
/// </summary>
public sealed class LoopbackSweepTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("mlx-orleans-loopback");
    private readonly List<Process> _processes = new();

    public void Dispose()
    {
        foreach (var p in _processes) { try { if (!p.HasExited) p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { } p.Dispose(); }
        _dir.Delete(recursive: true);
    }

    [Fact]
    public Task AWorkerProcessKilledMidTrialDoesNotLoseOrDuplicateARow()
    {
        var ports = LoopbackPorts.Free(3);
        return KillOneWorkerMidTrial($"--SweepCluster:PrimarySiloEndpoint=127.0.0.1:{ports[0]}", ports);
    }

    /// <summary>
    /// The same sweep with ADO.NET clustering on a private PostgreSQL server (the multi-machine configuration of
    /// docs/tuning.md; here all on loopback): the membership lives in the database, no silo is primary. Opt-in because
    /// it needs Debian's PostgreSQL server and Orleans' schema scripts (not shipped: set MLNETEXT_ORLEANS_SQL_DIR).
    /// </summary>
    [OptInFact("MLNETEXT_POSTGRES")]
    public async Task AdoNetClusteringOnPostgreSqlSurvivesAKilledWorker()
    {
        var schema = Environment.GetEnvironmentVariable("MLNETEXT_ORLEANS_SQL_DIR")
            ?? throw new InvalidOperationException("MLNETEXT_POSTGRES=1 needs MLNETEXT_ORLEANS_SQL_DIR: a folder with Orleans' PostgreSQL-Main.sql and PostgreSQL-Clustering.sql (dotnet/orleans, src/AdoNet).");
        using var pg = new ThrowawayPostgres(schema);
        var clusterId = $"pg-{Guid.NewGuid():N}";
        var ports = LoopbackPorts.Free(6);
        int victimPort = await KillOneWorkerMidTrial($"--SweepCluster:Clustering=AdoNet --SweepCluster:AdoNetConnectionString=\"{pg.ConnectionString}\" " +
                                    "--SweepCluster:AdvertisedIPAddress=127.0.0.1", ports, clusterId);
        // Every silo registered in the database; the killed worker was declared dead (status 6) by the others.
        var members = pg.Query($"select port || ':' || status from orleansmembershiptable where deploymentid = '{clusterId}'");
        Assert.Equal(3, members.Length);
        Assert.Contains($"{victimPort}:6", members); // SiloStatus.Dead, voted by the survivors (the coordinator exits Dead too)
    }

    private async Task<int> KillOneWorkerMidTrial(string clustering, int[] ports, string? clusterId = null)
    {
        var dll = BuiltProgram.Path("examples/Sweeps.Distributed", "Sweeps.Distributed");
        var csv = Path.Combine(_dir.FullName, "toy.csv");
        // Gateways on their own free ports (the ADO.NET run needs them distinct; Localhost derives them).
        string Ports(int i) => ports.Length > 3 ? $"--SweepCluster:SiloPort={ports[i]} --SweepCluster:GatewayPort={ports[i + 3]}" : $"--SweepCluster:SiloPort={ports[i]}";
        string common = $"--SweepCluster:ClusterId={clusterId ?? $"loop-{Guid.NewGuid():N}"} {clustering} " +
                        "--SweepCluster:ProbeTimeout=00:00:01 --SweepCluster:NumMissedProbesLimit=2 --SweepCluster:NumVotesForDeathDeclaration=1 " +
                        "--Sweep:Name=toy --Sweep:Seeds=2 --Sweep:ToyMilliseconds=1500";
        var coordinator = Start(dll, $"--coordinator {Ports(0)} {common} --Sweep:Results={csv} " +
                                     "--SweepCluster:Coordinator:CallTimeout=00:00:02 --SweepCluster:Coordinator:MaxFailedCalls=2", out var coordinatorLog);
        var w1 = Start(dll, $"--worker {Ports(1)} {common} --SweepCluster:Worker:Name=w1 --SweepCluster:Worker:TorchThreadsPerTrial=0", out var w1Log);
        var w2 = Start(dll, $"--worker {Ports(2)} {common} --SweepCluster:Worker:Name=w2 --SweepCluster:Worker:TorchThreadsPerTrial=0", out var w2Log);

        // Kill the first worker that starts a trial, in the middle of it.
        var watch = Stopwatch.StartNew();
        (Process Victim, string Name, ConcurrentQueue<string> Log)? victim = null;
        while (victim == null)
        {
            if (watch.Elapsed > TimeSpan.FromSeconds(90) || coordinator.HasExited)
                throw new TimeoutException("No trial started within 90 s. Coordinator:\n" + string.Join('\n', coordinatorLog));
            if (w1Log.Any(l => l.Contains("started (setting"))) victim = (w1, "w1", w1Log);
            else if (w2Log.Any(l => l.Contains("started (setting"))) victim = (w2, "w2", w2Log);
            else await Task.Delay(50);
        }
        var killedTrial = victim.Value.Log.First(l => l.Contains("started (setting")).Split(": trial ")[1].Split(' ')[0]; // "k/8"
        await Task.Delay(300);
        victim.Value.Victim.Kill(); // SIGKILL on Linux: no shutdown, no goodbye to the cluster
        string survivor = victim.Value.Name == "w1" ? "w2" : "w1";

        Assert.True(coordinator.WaitForExit(TimeSpan.FromSeconds(120)), "The coordinator did not finish:\n" + string.Join('\n', coordinatorLog));
        await Task.Delay(200); // the last output lines
        var log = string.Join('\n', coordinatorLog);
        Assert.True(coordinator.ExitCode == 0, $"exit {coordinator.ExitCode}:\n{log}");
        var rows = File.ReadAllLines(csv).Skip(1).Select(l => l.Split(',')).ToArray();
        Assert.Equal(8, rows.Length);
        Assert.Equal(8, rows.Select(f => (f[0], f[1])).Distinct().Count());           // every (setting, repeat) exactly once
        Assert.All(rows, f => Assert.Equal("", f[^1]));                                // no failed trial
        Assert.Contains($"trial {killedTrial} (", log);
        Assert.Matches($@"trial {killedTrial.Replace("/", "/")} \(setting \d+, repeat \d+, seed \d+\) re-queued", log);
        Assert.Matches($@"trial {killedTrial} \(setting \d+, repeat \d+, seed \d+\) finished on {survivor}", log); // ran again on the survivor
        return ports[victim.Value.Name == "w1" ? 1 : 2];
    }

    private Process Start(string dll, string arguments, out ConcurrentQueue<string> lines)
    {
        var psi = new ProcessStartInfo("dotnet", $"\"{dll}\" {arguments}") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.Environment["DOTNET_gcServer"] = "0";
        var p = new Process { StartInfo = psi };
        var q = new ConcurrentQueue<string>();
        p.OutputDataReceived += (_, e) => { if (e.Data != null) q.Enqueue(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data != null) q.Enqueue(e.Data); };
        p.Start();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        _processes.Add(p);
        lines = q;
        return p;
    }
}

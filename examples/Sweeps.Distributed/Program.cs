using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MLNetExtensions.Core.Tuning;
using MLNetExtensions.Examples.SweepsDistributed;
using MLNetExtensions.Tuning.Orleans;

// One application, two modes: `--worker` joins the cluster and runs the trials it is sent; `--coordinator` hosts the
// cluster's primary silo (no trials of its own), hands the sweep's trials out and writes the results CSV.
// Any setting of appsettings.json can be given as --Section:Key=value (e.g. --SweepCluster:SiloPort=11112).
bool worker = args.Contains("--worker"), coordinator = args.Contains("--coordinator");
if (worker == coordinator)
{
    Console.Error.WriteLine("usage: Sweeps.Distributed --coordinator|--worker [--SweepCluster:SiloPort=N] [--Sweep:Name=mlp|toy] [--Sweep:Results=path] …");
    return 2;
}
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
{
    Args = args.Where(a => a is not "--worker" and not "--coordinator").ToArray(),
    ContentRootPath = AppContext.BaseDirectory, // appsettings.json beside the program, wherever it is started from
});
builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
var cluster = SweepClusterOptions.FromConfiguration(builder.Configuration);
var settings = SweepSettings.From(builder.Configuration);
if (coordinator) cluster.Worker.MaxConcurrentTrialsPerWorker = 0; // the coordinator only coordinates
builder.UseOrleans(silo => silo.UseSweepCluster(cluster)
    .AddSweep("mlp", _ => SweepDefinitions.Mlp(settings))
    .AddSweep("toy", _ => SweepDefinitions.Toy(settings)));
using var host = builder.Build();
var log = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Program");

if (worker)
{
    log.LogInformation("Worker started (silo port {Port}, {Capacity} trial(s) at once); Ctrl+C to leave.", cluster.SiloPort, cluster.Worker.MaxConcurrentTrialsPerWorker);
    await host.RunAsync();
    return 0;
}

await host.StartAsync();
using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
var executor = new OrleansTrialExecutor(host.Services.GetRequiredService<IGrainFactory>(), settings.Name, cluster.Coordinator,
    host.Services.GetRequiredService<ILoggerFactory>().CreateLogger<OrleansTrialExecutor>());
int exit = 0;
try
{
    var result = settings.Name switch
    {
        "mlp" => Run(SweepDefinitions.Mlp(settings)),
        "toy" => Run(SweepDefinitions.Toy(settings)),
        _ => throw new ArgumentException($"Sweep:Name '{settings.Name}' is not a sweep of this application (mlp, toy)."),
    };
    Console.WriteLine(result.ToMarkdownTable());
    Console.WriteLine($"workers: {string.Join(", ", executor.WorkersSeen.Select(w => $"{w.Key} ({w.Value})"))}");
}
catch (OperationCanceledException) { log.LogWarning("Cancelled; finished trials are in {Path}, run again to resume.", settings.Results); exit = 130; }
await host.StopAsync();
return exit;

SweepResult Run<T>(OptionsSweep<T> sweep) where T : class
{
    sweep.ResultsPath = settings.Results;
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(settings.Results))!);
    sweep.ContinueOnTrialError = true;
    sweep.Executor = executor;
    sweep.Progress = new SyncProgress(p => log.LogInformation("trial {Done}/{Total} [{Setting}] seed {Seed}: {Metric} = {Value:G5} on {Worker} in {Seconds:F1} s{Error}",
        p.Completed, p.Total, p.Trial.Parameters, p.Trial.Seed, sweep.MetricName, p.Trial.Metric, p.Trial.Worker, p.Trial.Duration.TotalSeconds,
        p.Trial.Error != null ? $" (failed: {p.Trial.Error})" : ""));
    return Task.Run(() => sweep.Run(cts.Token)).GetAwaiter().GetResult();
}

/// <summary>Reports on the sweep's loop, in order (Progress&lt;T&gt; would post to the thread pool).</summary>
internal sealed class SyncProgress(Action<SweepProgress> report) : IProgress<SweepProgress>
{
    public void Report(SweepProgress value) => report(value);
}

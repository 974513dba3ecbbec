using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MLNetExtensions.Core.Tuning;
using MLNetExtensions.Examples.SweepsDistributed;
using MLNetExtensions.Tuning.Orleans;
using Orleans.Runtime;
using MLNetExtensions.CommandLine;
using static MLNetExtensions.CommandLine.CommandLineApp;

// One application, three modes: `--worker` joins the cluster and runs the trials it is sent; `--coordinator` hosts the
// cluster's primary silo (no trials of its own), hands the sweep's trials out and writes the results CSV;
// `--in-process` runs the same sweep here with the default executor (no cluster), for comparison.
// Any setting of appsettings.json can be given as --Section:Key=value (e.g. --SweepCluster:SiloPort=11112).
var workerO = Defaulted("--worker", "Join the cluster and run the trials it is sent.", false);
var coordinatorO = Defaulted("--coordinator", "Host the primary silo, hand out the sweep's trials, write the results CSV.", false);
var inProcessO = Defaulted("--in-process", "Run the same sweep here with the default executor (no cluster).", false);
var root = new RootCommand("A hyper-parameter sweep over an Orleans cluster; exactly one of --coordinator, --worker, --in-process. " +
    "Any setting of appsettings.json can be given as --Section:Key=value (e.g. --SweepCluster:SiloPort=11112, --Sweep:Name=mlp|toy, --Sweep:Results=path). " + ExitCodesHelp)
    { workerO, coordinatorO, inProcessO };
root.TreatUnmatchedTokensAsErrors = false; // the --Section:Key=value settings go to the host's configuration
if (CommandLineApp.Parse(root, args, out int parseExit) is not { } cli) return parseExit;
bool worker = cli.GetValue(workerO), coordinator = cli.GetValue(coordinatorO), inProcess = cli.GetValue(inProcessO);
if ((worker ? 1 : 0) + (coordinator ? 1 : 0) + (inProcess ? 1 : 0) != 1)
    throw new UsageException("choose exactly one of --coordinator, --worker, --in-process.");
var settingTokens = cli.UnmatchedTokens;
for (int i = 0; i < settingTokens.Count; i++)
{
    bool setting = settingTokens[i].StartsWith("--") && settingTokens[i].Contains(':');
    bool valueOfSetting = i > 0 && settingTokens[i - 1].StartsWith("--") && settingTokens[i - 1].Contains(':') && !settingTokens[i - 1].Contains('=');
    if (!setting && !valueOfSetting) throw new UsageException($"unknown argument '{settingTokens[i]}'; settings are given as --Section:Key=value.");
}
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
{
    Args = settingTokens.ToArray(),
    ContentRootPath = AppContext.BaseDirectory, // appsettings.json beside the program, wherever it is started from
});
builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
var cluster = SweepClusterOptions.FromConfiguration(builder.Configuration);
var settings = SweepSettings.From(builder.Configuration);
if (inProcess)
{
    using var plain = builder.Build();
    var plainLog = plain.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Program");
    var r = settings.Name == "toy" ? RunSweep(SweepDefinitions.Toy(settings), null, plainLog, CancellationToken.None) : RunSweep(SweepDefinitions.Mlp(settings), null, plainLog, CancellationToken.None);
    Console.WriteLine(r.ToMarkdownTable());
    return 0;
}
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
var grains = host.Services.GetRequiredService<IGrainFactory>();
if (settings.WaitForWorkers > 0)
{
    // For timings: start the clock once the expected workers have joined (the coordinator silo is one of the hosts).
    var management = grains.GetGrain<IManagementGrain>(0);
    while ((await management.GetHosts(onlyActive: true)).Count < settings.WaitForWorkers + 1) await Task.Delay(100);
}
using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
var executor = new OrleansTrialExecutor(grains, settings.Name, cluster.Coordinator,
    host.Services.GetRequiredService<ILoggerFactory>().CreateLogger<OrleansTrialExecutor>());
int exit = 0;
try
{
    var result = settings.Name switch
    {
        "mlp" => RunSweep(SweepDefinitions.Mlp(settings), executor, log, cts.Token),
        "toy" => RunSweep(SweepDefinitions.Toy(settings), executor, log, cts.Token),
        _ => throw new ArgumentException($"Sweep:Name '{settings.Name}' is not a sweep of this application (mlp, toy)."),
    };
    Console.WriteLine(result.ToMarkdownTable());
    Console.WriteLine($"workers: {string.Join(", ", executor.WorkersSeen.Select(w => $"{w.Key} ({w.Value})"))}");
}
catch (OperationCanceledException) { log.LogWarning("Cancelled; finished trials are in {Path}, run again to resume.", settings.Results); exit = 130; }
await host.StopAsync();
return exit;

SweepResult RunSweep<T>(OptionsSweep<T> sweep, ITrialExecutor? executor, ILogger log, CancellationToken ct) where T : class
{
    sweep.ResultsPath = settings.Results;
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(settings.Results))!);
    sweep.ContinueOnTrialError = true;
    if (executor != null) sweep.Executor = executor;
    sweep.Progress = new SyncProgress(p => log.LogInformation("trial {Done}/{Total} [{Setting}] seed {Seed}: {Metric} = {Value:G5} on {Worker} in {Seconds:F1} s{Error}",
        p.Completed, p.Total, p.Trial.Parameters, p.Trial.Seed, sweep.MetricName, p.Trial.Metric, p.Trial.Worker ?? "this process", p.Trial.Duration.TotalSeconds,
        p.Trial.Error != null ? $" (failed: {p.Trial.Error})" : ""));
    var watch = System.Diagnostics.Stopwatch.StartNew();
    var result = Task.Run(() =>
    {
        // In process, the trials run on this thread: LibTorch's OpenMP thread count is per calling thread, so set it here
        // (as a worker does on each trial's thread).
        if (executor == null && settings.TorchThreads > 0) TorchSharp.torch.set_num_threads(settings.TorchThreads);
        return sweep.Run(ct);
    }).GetAwaiter().GetResult();
    var ran = result.Trials.Where(t => !t.Resumed).ToArray();
    // One parsable line for the benchmark: the sweep's wall time and the trials' own time.
    // busiest: the worker with the most trial time (the critical path); median: one trial's typical time.
    var busiest = ran.GroupBy(t => t.Worker).OrderByDescending(g => g.Sum(t => t.Duration.TotalSeconds)).FirstOrDefault();
    var sorted = ran.Select(t => t.Duration.TotalSeconds).Order().ToArray();
    double busiestSeconds = busiest?.Sum(t => t.Duration.TotalSeconds) ?? 0, median = sorted.Length > 0 ? sorted[sorted.Length / 2] : 0;
    Console.WriteLine(FormattableString.Invariant($"SWEEP wall_s={watch.Elapsed.TotalSeconds:F3} trials={ran.Length} trial_s={ran.Sum(t => t.Duration.TotalSeconds):F3} busiest_s={busiestSeconds:F3} busiest_n={busiest?.Count() ?? 0} median_s={median:F3}"));
    return result;
}

/// <summary>Reports on the sweep's loop, in order (Progress&lt;T&gt; would post to the thread pool).</summary>
internal sealed class SyncProgress(Action<SweepProgress> report) : IProgress<SweepProgress>
{
    public void Report(SweepProgress value) => report(value);
}

// The RLHF accuracy-paradox sweep (shared/methods/reward-model-sweep.md §7) on the synthetic QA-feedback task:
//   dotnet run -c Release --project examples/RewardModelSweep.QaFeedback -- --profile smoke|standard|full --out DIR
//     [--tasks relevance,factuality] [--seeds N] [--k K] [--ppo-steps N] [--threads N]
// Resumable: re-running with the same settings and --out skips every finished PPO run. Writes manifest.json,
// rm_checkpoints.csv, rm_bias.csv, runs.csv, history/*.csv, summary.json, curve_{task}.csv and PNGs to DIR.
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML;
using MLNetExtensions.Estimators.Rlhf.Sweep;
using MLNetExtensions;
using MLNetExtensions.CommandLine;
using TorchSharp;
using static MLNetExtensions.CommandLine.CommandLineApp;

var profileO = Defaulted("--profile", "Sweep size: smoke, standard or full.", "smoke").AcceptOnlyFromAmong("smoke", "standard", "full");
var outO = Defaulted("--out", "Output folder (resumable: finished PPO runs are skipped).", Path.Combine(Path.GetTempPath(), "rm-sweep"));
var tasksO = new Option<string?>("--tasks") { Description = "Tasks, comma-separated (e.g. relevance,factuality; default: the profile's)." };
Option<int?> Override(string name, string what) => new(name) { Description = $"{what} (default: the profile's)." };
var seedsO = Override("--seeds", "Seeds per reward model");
var kO = Override("--k", "Reward-model checkpoints per task");
var ppoStepsO = Override("--ppo-steps", "PPO steps per run");
var evalEveryO = Override("--eval-every", "PPO steps between evaluations");
var testQuestionsO = Override("--test-questions", "Test questions");
var threadsO = Defaulted("--threads", "LibTorch intra-op threads.", 1);
var root = new RootCommand("The RLHF accuracy-paradox sweep on the synthetic QA-feedback task. " + ExitCodesHelp)
    { profileO, outO, tasksO, seedsO, kO, ppoStepsO, evalEveryO, testQuestionsO, threadsO };
if (CommandLineApp.Parse(root, args, out int exit) is not { } cli) return exit;
string profile = cli.GetValue(profileO)!, outDir = cli.GetValue(outO)!;
var o = RewardModelSweepOptions.ForProfile(profile);
o.OutputDirectory = outDir;
if (cli.GetValue(tasksO) is string tasks) o.Tasks = tasks.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
if (cli.GetValue(seedsO) is int seeds) o.Seeds = seeds;
if (cli.GetValue(kO) is int k) o.CheckpointsPerTask = k;
if (cli.GetValue(ppoStepsO) is int ppoSteps) o.PpoSteps = ppoSteps;
if (cli.GetValue(evalEveryO) is int evalEvery) o.EvalEvery = evalEvery;
if (cli.GetValue(testQuestionsO) is int testQuestions) o.TestQuestions = testQuestions;
torch.set_num_threads(cli.GetValue(threadsO));

var ml = new MLContext(seed: 1).RegisterMLNetExtensions();
var sweep = new RewardModelSweep(ml, o) { Progress = new ConsoleProgress() };
Console.WriteLine($"RewardModelSweep profile {profile}, config hash {sweep.ConfigHash}, output {Path.GetFullPath(outDir)}");
var runs = sweep.Run();

// Results table: per task and RM, mean ± s.d. over seeds, then the verdicts from summary.json.
Console.WriteLine();
Console.WriteLine($"{"task",-13} {"rm",-12} {"knob",-8} {"rm acc",7} {"proxy perf_max",18} {"oracle perf_max",18} {"KL final",9} {"sent.",6}");
foreach (var g in runs.GroupBy(r => (r.Task, r.RmId)))
{
    string MS(Func<SweepRunRecord, double> f) { var v = g.Select(f).ToArray(); double m = v.Average(); double s = v.Length > 1 ? Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / (v.Length - 1)) : 0; return $"{m:F3} ± {s:F3}"; }
    var first = g.First();
    Console.WriteLine($"{g.Key.Task,-13} {g.Key.RmId,-12} {first.Knob,-8} {first.RmAccuracy,7:F3} {MS(r => r.ProxyPerfMax),18} {MS(r => r.OraclePerfMax),18} {g.Average(r => r.KlFinal),9:F2} {g.Average(r => r.NSentencesFinal),6:F2}");
}
using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "summary.json")));
Console.WriteLine();
foreach (var t in summary.RootElement.GetProperty("tasks").EnumerateObject())
{
    string V(string kind)
    {
        if (!t.Value.TryGetProperty(kind, out var v) || v.ValueKind == JsonValueKind.Null) return $"{kind}: n/a (fewer than 2 RMs)";
        var ci = v.GetProperty("gap_ci95");
        return $"{kind}: best {v.GetProperty("best_performing_rm").GetString()} vs most accurate {v.GetProperty("most_accurate_rm").GetString()}, gap {v.GetProperty("gap")} " +
               $"[{ci[0]}, {ci[1]}], Spearman {v.GetProperty("spearman_rho")}, paradox {v.GetProperty("paradox_observed")}";
    }
    Console.WriteLine($"{t.Name}: {V("proxy")}");
    Console.WriteLine($"{new string(' ', t.Name.Length)}  {V("oracle")}");
}
return 0;

/// <summary>Progress lines printed at once, in order, with the time.</summary>
sealed class ConsoleProgress : IProgress<string>
{
    public void Report(string value) => Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {value}");
}

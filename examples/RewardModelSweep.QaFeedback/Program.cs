// The RLHF accuracy-paradox sweep (shared/methods/reward-model-sweep.md §7) on the synthetic QA-feedback task:
//   dotnet run -c Release --project examples/RewardModelSweep.QaFeedback -- --profile smoke|standard|full --out DIR
//     [--tasks relevance,factuality] [--seeds N] [--k K] [--ppo-steps N] [--threads N]
// Resumable: re-running with the same settings and --out skips every finished PPO run. Writes manifest.json,
// rm_checkpoints.csv, rm_bias.csv, runs.csv, history/*.csv, summary.json, curve_{task}.csv and PNGs to DIR.
using System.Globalization;
using System.Text.Json;
using Microsoft.ML;
using MLNetExtensions.Estimators.Rlhf.Sweep;
using MLNetExtensions;
using TorchSharp;

string profile = "smoke", outDir = Path.Combine(Path.GetTempPath(), "rm-sweep");
var overrides = new Dictionary<string, string>();
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
    switch (args[i])
    {
        case "--profile": profile = Next(); break;
        case "--out": outDir = Next(); break;
        case "--tasks" or "--seeds" or "--k" or "--ppo-steps" or "--threads" or "--eval-every" or "--test-questions": overrides[args[i]] = Next(); break;
        default: Console.Error.WriteLine($"Unknown argument '{args[i]}'. Usage: --profile smoke|standard|full --out DIR [--tasks a,b] [--seeds N] [--k K] [--ppo-steps N] [--threads N]"); return 2;
    }
}
var o = RewardModelSweepOptions.ForProfile(profile);
o.OutputDirectory = outDir;
int Int(string k) => int.Parse(overrides[k], CultureInfo.InvariantCulture);
if (overrides.ContainsKey("--tasks")) o.Tasks = overrides["--tasks"].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
if (overrides.ContainsKey("--seeds")) o.Seeds = Int("--seeds");
if (overrides.ContainsKey("--k")) o.CheckpointsPerTask = Int("--k");
if (overrides.ContainsKey("--ppo-steps")) o.PpoSteps = Int("--ppo-steps");
if (overrides.ContainsKey("--eval-every")) o.EvalEvery = Int("--eval-every");
if (overrides.ContainsKey("--test-questions")) o.TestQuestions = Int("--test-questions");
torch.set_num_threads(overrides.ContainsKey("--threads") ? Int("--threads") : 1);

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

using System.Globalization;
using System.Text;
using System.Text.Json;
using MLNetExtensions.Core.IO;
using MLNetExtensions.Core.Plotting;
using MLNetExtensions.Transforms.Rlhf.Sweep;

namespace MLNetExtensions.Estimators.Rlhf.Sweep;

/// <summary>
/// The sweep's analysis outputs (note §7.6 items 6–7) from the run records: summary.json (per task: points with
/// mean ± s.d. over seeds, most-accurate and best-performing RM by proxy and by oracle with the bootstrap CI of the gap,
/// Spearman ρ with CI, quadratic fit and vertex, paradox_observed and paradox_observed_oracle), curve_{task}.csv, and
/// PNGs: RM accuracy against policy quality (proxy and oracle, error bars = s.d. over seeds) and the training reward,
/// KL and response length over PPO steps. The verdict uses the checkpoint-step RMs (the paper's knob); knob RMs
/// (data fraction, extra noise) are listed as tagged points.
/// </summary>
internal sealed class RewardModelSweepReport
{
    private readonly RewardModelSweepOptions _o;
    private readonly string _hash;
    private readonly IReadOnlyList<SweepRunRecord> _runs;
    private readonly IReadOnlyDictionary<string, IReadOnlyList<SweepRewardModel>> _rms;

    public RewardModelSweepReport(RewardModelSweepOptions options, string hash, IReadOnlyList<SweepRunRecord> runs, IReadOnlyDictionary<string, IReadOnlyList<SweepRewardModel>> rms)
    {
        _o = options; _hash = hash; _runs = runs; _rms = rms;
    }

    private static string F(double v) => double.IsFinite(v) ? v.ToString("R", CultureInfo.InvariantCulture) : "";
    private static double? J(double v) => double.IsFinite(v) ? Math.Round(v, 6) : null;

    /// <summary>Metrics a point carries: name → value of a run.</summary>
    internal static readonly (string Name, Func<SweepRunRecord, double> Of)[] Metrics =
    {
        ("proxy_perf_max", r => r.ProxyPerfMax), ("oracle_perf_max", r => r.OraclePerfMax), ("oracle_perf_last3", r => r.OraclePerfLast3),
    };

    /// <summary>Curve points of a task for one metric (one per RM, seeds pooled), knob RMs included when asked.</summary>
    internal static List<(string RmId, string Knob, CurvePoint Point)> Points(IEnumerable<SweepRunRecord> runs, Func<SweepRunRecord, double> metric) =>
        runs.GroupBy(r => r.RmId).Select(g => (g.Key, g.First().Knob, new CurvePoint(g.Key, g.First().RmAccuracy, g.OrderBy(r => r.Seed).Select(metric).ToArray())))
            .OrderBy(p => p.Item3.Accuracy).ThenBy(p => p.Key, StringComparer.Ordinal).ToList();

    public void WriteAll(string dir)
    {
        var tasks = new Dictionary<string, object?>();
        foreach (var task in _o.Tasks)
        {
            var runs = _runs.Where(r => r.Task == task).ToArray();
            if (runs.Length == 0) { tasks[task] = null; continue; } // not run yet (the sweep writes the report after every task)
            var stepRuns = runs.Where(r => r.Knob == "step").ToArray();
            var curve = new StringBuilder("rm_id,knob,rm_accuracy,metric_kind,mean,std,n\n");
            var points = new List<Dictionary<string, object?>>();
            foreach (var (rmId, knob, _) in Points(runs, r => r.OraclePerfMax))
            {
                var rr = runs.Where(r => r.RmId == rmId).OrderBy(r => r.Seed).ToArray();
                var p = new Dictionary<string, object?> { ["rm_id"] = rmId, ["knob"] = knob, ["rm_accuracy"] = J(rr[0].RmAccuracy), ["seeds"] = rr.Select(r => r.Seed).ToArray() };
                foreach (var (name, of) in Metrics)
                {
                    var cp = new CurvePoint(rmId, rr[0].RmAccuracy, rr.Select(of).ToArray());
                    p[name] = new Dictionary<string, object?> { ["mean"] = J(cp.Mean), ["std"] = J(cp.Std), ["n"] = rr.Length, ["values"] = rr.Select(r => J(of(r))).ToArray() };
                    curve.AppendLine($"{rmId},{knob},{F(cp.Accuracy)},{name},{F(cp.Mean)},{F(cp.Std)},{rr.Length}");
                }
                points.Add(p);
            }
            AtomicFile.WriteAllBytes(Path.Combine(dir, $"curve_{task}.csv"), Encoding.UTF8.GetBytes(curve.ToString()));
            var proxy = Verdict(Points(stepRuns, r => r.ProxyPerfMax));
            var oracle = Verdict(Points(stepRuns, r => r.OraclePerfMax));
            var oracleLast3 = Verdict(Points(stepRuns, r => r.OraclePerfLast3));
            tasks[task] = new Dictionary<string, object?>
            {
                ["policy_size"] = _o.PolicySize,
                ["eval_rm"] = _rms.TryGetValue(task, out var list) ? list.FirstOrDefault(r => r.IsEvalRm)?.RmId : null,
                ["points"] = points,
                ["proxy"] = proxy.Json, ["oracle"] = oracle.Json, ["oracle_last3"] = oracleLast3.Json,
                ["paradox_observed"] = proxy.Paradox,
                ["paradox_observed_oracle"] = oracle.Paradox,
            };
            Plot(dir, task, runs);
        }
        var summary = new Dictionary<string, object?>
        {
            ["config_hash"] = _hash, ["profile"] = _o.Profile, ["seeds"] = Enumerable.Range(_o.BaseSeed, _o.Seeds).ToArray(),
            ["rule"] = $"paradox_observed: best-performing RM (highest mean perf_max over seeds) has dev accuracy ≥ {SweepStatistics.AccuracyMargin} below the most accurate RM's and the bootstrap 95 % CI of the perf gap (best − most accurate, seeds resampled) excludes 0; checkpoint-step RMs only",
            ["tasks"] = tasks,
        };
        AtomicFile.WriteAllBytes(Path.Combine(dir, "summary.json"), JsonSerializer.SerializeToUtf8Bytes(summary, new JsonSerializerOptions { WriteIndented = true }));
    }

    private (object? Json, bool? Paradox) Verdict(List<(string RmId, string Knob, CurvePoint Point)> pts)
    {
        if (pts.Count < 2) return (null, null);
        var v = SweepStatistics.Analyse(pts.Select(p => p.Point).ToArray(), _o.Bootstrap, seed: 0);
        return (new Dictionary<string, object?>
        {
            ["most_accurate_rm"] = v.MostAccurateRm, ["most_accurate_accuracy"] = J(v.MostAccurateAccuracy), ["most_accurate_perf"] = J(v.MostAccuratePerf),
            ["best_performing_rm"] = v.BestPerformingRm, ["best_performing_accuracy"] = J(v.BestPerformingAccuracy), ["best_performing_perf"] = J(v.BestPerformingPerf),
            ["gap"] = J(v.Gap), ["gap_ci95"] = new[] { J(v.GapCiLow), J(v.GapCiHigh) },
            ["spearman_rho"] = J(v.Spearman), ["spearman_ci95"] = new[] { J(v.SpearmanCiLow), J(v.SpearmanCiHigh) },
            ["quadratic"] = new Dictionary<string, object?> { ["a"] = J(v.QuadA), ["b"] = J(v.QuadB), ["c"] = J(v.QuadC), ["vertex"] = J(v.Vertex), ["vertex_inside_range"] = v.VertexInside },
            ["paradox_observed"] = v.ParadoxObserved,
        }, v.ParadoxObserved);
    }

    private void Plot(string dir, string task, SweepRunRecord[] runs)
    {
        foreach (var (name, label) in new[] { ("proxy_perf_max", "proxy (eval RM)"), ("oracle_perf_max", "oracle") })
        {
            var of = Metrics.First(m => m.Name == name).Of;
            var chart = new PngChart { Title = $"{task}: RM accuracy vs policy {label} perf_max (mean ± s.d. over seeds)", XLabel = "RM dev accuracy", YLabel = name };
            foreach (var knob in runs.Select(r => r.Knob).Distinct())
            {
                var pts = Points(runs.Where(r => r.Knob == knob), of);
                chart.AddErrorBars($"{knob} RMs", pts.Select(p => p.Point.Accuracy), pts.Select(p => p.Point.Mean), pts.Select(p => p.Point.Std), line: knob == "step");
            }
            chart.Save(Path.Combine(dir, $"curve_{task}_{(name.StartsWith("proxy") ? "proxy" : "oracle")}.png"));
        }
        // Training dynamics per RM (mean over seeds): raw reward, KL, response length against PPO step.
        foreach (var (col, file, ylabel) in new[] { ("raw_reward", "reward", "raw training reward (per sequence)"), ("kl", "kl", "KL to reference (summed per sequence)"), ("response_length", "length", "sampled response length (tokens)") })
        {
            var chart = new PngChart { Title = $"{task}: {ylabel} over PPO steps", XLabel = "PPO step", YLabel = ylabel };
            foreach (var g in runs.Where(r => r.Knob == "step").GroupBy(r => r.RmId).OrderBy(g => g.First().RmAccuracy))
            {
                var series = g.Select(r => History(dir, r, col)).Where(s => s.Count > 0).ToArray();
                if (series.Length == 0) continue;
                int n = series.Min(s => s.Count);
                chart.AddLine($"{g.Key} (acc {g.First().RmAccuracy:F3})", series[0].Take(n).Select(p => p.Step), Enumerable.Range(0, n).Select(i => series.Average(s => s[i].Value)));
            }
            chart.Save(Path.Combine(dir, $"training_{task}_{file}.png"));
        }
    }

    private static List<(double Step, double Value)> History(string dir, SweepRunRecord r, string column)
    {
        var path = Path.Combine(dir, "history", $"{r.Task}_{r.RmId}_s{r.Seed}.csv");
        var list = new List<(double, double)>();
        if (!File.Exists(path)) return list;
        var lines = File.ReadAllLines(path);
        int c = Array.IndexOf(lines[0].Split(','), column);
        foreach (var line in lines.Skip(1))
        {
            var f = line.Split(',');
            if (c < f.Length && double.TryParse(f[c], NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
                list.Add((double.Parse(f[0], CultureInfo.InvariantCulture), v));
        }
        return list;
    }
}

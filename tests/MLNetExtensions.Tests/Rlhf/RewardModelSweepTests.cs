using System.Globalization;
using System.Text.Json;
using Microsoft.ML;
using MLNetExtensions.Estimators.Rlhf.Sweep;
using MLNetExtensions.Transforms.Rlhf.Sweep;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;

namespace MLNetExtensions.Tests.Rlhf;

/// <summary>The sweep's smoke profile end to end: outputs exist and agree with each other, resume skips, a rerun reproduces.</summary>
public class RewardModelSweepTests
{
    private readonly ITestOutputHelper _out;
    public RewardModelSweepTests(ITestOutputHelper o) => _out = o;

    private static string[][] Csv(string path) => File.ReadAllLines(path).Select(l => l.Split(',')).ToArray();
    private static double D(string s) => double.Parse(s, CultureInfo.InvariantCulture);

    [Fact]
    public void SmokeProfileWritesConsistentOutputsResumesAndReproducesARun()
    {
        torch.set_num_threads(1);
        var dir = Directory.CreateTempSubdirectory("rm-sweep").FullName;
        try
        {
            var o = RewardModelSweepOptions.ForProfile("smoke");
            o.OutputDirectory = dir;
            var lines = new List<string>();
            RewardModelSweep Sweep() => new(new MLContext(seed: 1).RegisterMLNetExtensions(), o) { Progress = new SyncProgress(lines.Add) };
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var runs = Sweep().Run();
            _out.WriteLine($"smoke sweep {watch.Elapsed.TotalSeconds:F1} s");
            foreach (var l in lines) _out.WriteLine(l);

            foreach (var f in new[] { "manifest.json", "rm_checkpoints.csv", "rm_bias.csv", "runs.csv", "summary.json", "curve_relevance.csv",
                         "curve_relevance_proxy.png", "curve_relevance_oracle.png", "training_relevance_reward.png", "training_relevance_kl.png", "training_relevance_length.png" })
                Assert.True(new FileInfo(Path.Combine(dir, f)).Length > 0, $"{f} missing or empty");

            // Every grid cell exactly once: the selected RMs × seeds, in runs.csv and with one history each.
            var ckpt = Csv(Path.Combine(dir, "rm_checkpoints.csv"));
            int Col(string[][] t, string name) => Array.IndexOf(t[0], name);
            var selected = ckpt.Skip(1).Where(r => r[Col(ckpt, "selected")] == "true").ToArray();
            Assert.Equal(o.CheckpointsPerTask, selected.Length);
            var accs = ckpt.Skip(1).Select(r => D(r[Col(ckpt, "dev_accuracy")])).ToArray();
            Assert.Contains(selected, r => r[Col(ckpt, "step")] == "0");
            var eval = Assert.Single(ckpt.Skip(1), r => r[Col(ckpt, "is_eval_rm")] == "true");
            Assert.Equal(accs.Max(), D(eval[Col(ckpt, "dev_accuracy")]));
            var table = Csv(Path.Combine(dir, "runs.csv"));
            Assert.Equal(SweepRunRecord.CsvHeader, string.Join(",", table[0]));
            var cells = table.Skip(1).Select(r => (r[0], r[1], r[3])).ToArray();
            Assert.Equal(selected.Length * o.Seeds, cells.Length);
            Assert.Equal(cells.Length, cells.Distinct().Count());
            Assert.Equal(selected.Select(r => r[1]).OrderBy(x => x), cells.Select(c => c.Item2).OrderBy(x => x));
            foreach (var r in runs)
            {
                var h = Csv(Path.Combine(dir, "history", $"{r.Task}_{r.RmId}_s{r.Seed}.csv"));
                Assert.Equal(r.StepsDone + 2, h.Length); // header, step 0 (evaluation only), one line per PPO step
                Assert.InRange(r.OraclePerfMax, 0, 1);
                Assert.True(r.OraclePerfMax >= r.OraclePerfFinal && r.ProxyPerfMax >= r.ProxyPerfFinal);
            }
            Assert.Equal(o.CheckpointsPerTask, Csv(Path.Combine(dir, "rm_bias.csv")).Length - 1);

            // The summary is recomputable from runs.csv.
            using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")));
            var task = summary.RootElement.GetProperty("tasks").GetProperty("relevance");
            var points = table.Skip(1).GroupBy(r => r[1]).Select(g => new CurvePoint(g.Key, D(g.First()[2]), g.Select(r => D(r[Col(table, "oracle_perf_max")])).ToArray())).ToArray();
            var v = SweepStatistics.Analyse(points, o.Bootstrap, seed: 0);
            var oracle = task.GetProperty("oracle");
            Assert.Equal(v.BestPerformingRm, oracle.GetProperty("best_performing_rm").GetString());
            Assert.Equal(v.Gap, oracle.GetProperty("gap").GetDouble(), 5);
            Assert.Equal(v.ParadoxObserved, task.GetProperty("paradox_observed_oracle").GetBoolean());
            foreach (var p in task.GetProperty("points").EnumerateArray())
            {
                var pt = points.Single(x => x.RmId == p.GetProperty("rm_id").GetString());
                Assert.Equal(pt.Mean, p.GetProperty("oracle_perf_max").GetProperty("mean").GetDouble(), 5);
            }

            // Resume + determinism in one more run: drop the last run (its trial row and record); the sweep must skip the
            // others and recompute that one to the same history and record (timings aside).
            var before = File.ReadAllText(Path.Combine(dir, "runs.csv"));
            var last = runs[^1];
            var trials = Directory.GetFiles(dir, "trials_*.csv").Single();
            var kept = File.ReadAllLines(trials);
            Assert.Equal(cells.Length + 1, kept.Length);
            File.WriteAllLines(trials, kept.Take(kept.Length - 1));
            File.Delete(Path.Combine(dir, "runs", $"{last.Task}_{last.RmId}_s{last.Seed}.json"));
            var histPath = Path.Combine(dir, "history", $"{last.Task}_{last.RmId}_s{last.Seed}.csv");
            string[] NoTime(string path) => Csv(path).Select(r => string.Join(",", r.Where((_, i) => i is not (10 or 11)))).ToArray(); // seconds, generation_seconds
            var h1 = NoTime(histPath);
            lines.Clear();
            var again = Sweep().Run();
            Assert.Contains(lines, l => l.StartsWith($"resumed: {cells.Length - 1} of {cells.Length}"));
            Assert.Contains(lines, l => l.StartsWith("cache: SFT policy and"));   // no training repeated
            Assert.DoesNotContain(lines, l => l.StartsWith("SFT:"));
            Assert.Single(lines, l => l.StartsWith("run "));
            Assert.Equal(h1, NoTime(histPath));
            Assert.Equal(last with { WallSeconds = 0, GenerationSeconds = 0, RolloutSeconds = 0, PpoStepSeconds = 0 }, again[^1] with { WallSeconds = 0, GenerationSeconds = 0, RolloutSeconds = 0, PpoStepSeconds = 0 });
            string NoWall(string csv) => string.Join("\n", csv.Split('\n').Select(l => string.Join(",", l.Split(',').Where((_, i) => i != 22))));
            Assert.Equal(NoWall(before), NoWall(File.ReadAllText(Path.Combine(dir, "runs.csv"))));
            _out.WriteLine($"total {watch.Elapsed.TotalSeconds:F1} s");
        }
        finally { try { Directory.Delete(dir, true); } catch (IOException) { } }
    }

    [Fact]
    public void BadOptionsNameTheSetting()
    {
        var o = RewardModelSweepOptions.ForProfile("smoke");
        Assert.Contains("OutputDirectory", Assert.Throws<ArgumentException>(() => o.Validate()).Message);
        o.OutputDirectory = "x";
        o.Tasks = new[] { "helpfulness" };
        Assert.Contains("helpfulness", Assert.Throws<ArgumentException>(() => o.Validate()).Message);
        o.Tasks = new[] { "relevance" };
        o.CheckpointsPerTask = 1;
        Assert.Contains("CheckpointsPerTask", Assert.Throws<ArgumentOutOfRangeException>(() => o.Validate()).Message);
        Assert.Contains("profile", Assert.Throws<ArgumentException>(() => RewardModelSweepOptions.ForProfile("huge")).Message);
        // The hash follows every setting but the output directory.
        var a = RewardModelSweepOptions.ForProfile("smoke"); var b = RewardModelSweepOptions.ForProfile("smoke");
        a.OutputDirectory = "a"; b.OutputDirectory = "b";
        Assert.Equal(a.ConfigHash(), b.ConfigHash());
        b.Seeds = 2;
        Assert.NotEqual(a.ConfigHash(), b.ConfigHash());
    }

    /// <summary>Progress on the calling thread (Progress&lt;T&gt; posts to the thread pool).</summary>
    private sealed class SyncProgress : IProgress<string>
    {
        private readonly Action<string> _a;
        public SyncProgress(Action<string> a) => _a = a;
        public void Report(string value) => _a(value);
    }
}

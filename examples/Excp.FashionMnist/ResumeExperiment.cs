// Resume experiment of method note §6: train the Fashion-MNIST MLP with Adam, write an ExCP chain every N steps up to
// the resume step, then continue training for a while from (a) the uncompressed checkpoint and (b) the decoded chain
// step, on the same batches, and compare the loss curves. Done for Adam β2 = 0.999 (PyTorch default) and 0.95 (the
// paper's): ExCP zeroes both moments for most entries, and with β2 = 0.999 Adam's bias correction no longer makes up
// for the emptied second moment, so the first steps after a resume are too large; with β2 = 0.95 the moments refill
// within ~20 steps.
using System.Diagnostics;
using System.Globalization;
using MLNetExtensions.Transforms.Excp;
using MLNetExtensions.Core.Plotting;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Examples.Excp;

internal static class ResumeExperiment
{
    private sealed record Variant(string Name, double[] Losses, double Accuracy);

    /// <summary>Runs the experiment for each β2; prints markdown tables; writes curves (CSV) and charts (PNG) into <paramref name="outDir"/>.</summary>
    public static int Run(Tensor xTrain, Tensor yTrain, Tensor xTest, Tensor yTest, int seed, int every, int resumeAt, int resumeSteps,
        double[] alphas, double[] beta2s, string outDir)
    {
        torch.set_num_threads(1); // a shared 2-core box: one thread each keeps timings and results steady
        const int batch = 128;
        int n = (int)xTrain.shape[0], perEpoch = n / batch;
        var perms = new Dictionary<int, long[]>();
        Tensor BatchIndex(long step) // 0-based global step → the same fixed, seeded batch order as the main run
        {
            int ep = (int)(step / perEpoch), s = (int)(step % perEpoch);
            if (!perms.TryGetValue(ep, out var perm))
            {
                var p = Enumerable.Range(0, n).ToArray();
                new Random(seed * 1000 + ep).Shuffle(p);
                perms[ep] = perm = p.Select(v => (long)v).ToArray();
            }
            return tensor(perm.AsSpan(s * batch, batch).ToArray());
        }
        nn.Module<Tensor, Tensor> NewModel()
        {
            torch.manual_seed(seed);
            return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10));
        }
        double TrainStep(nn.Module<Tensor, Tensor> m, optim.Optimizer opt, long step)
        {
            using var scope = NewDisposeScope();
            var idx = BatchIndex(step);
            opt.zero_grad();
            var loss = nn.functional.cross_entropy(m.call(xTrain.index_select(0, idx)), yTrain.index_select(0, idx));
            loss.backward();
            opt.step();
            return loss.item<float>();
        }
        double Accuracy(nn.Module<Tensor, Tensor> m)
        {
            using var _ = no_grad(); using var scope = NewDisposeScope();
            m.eval();
            var acc = m.call(xTest).argmax(1).eq(yTest).to(float32).mean().item<float>() * 100.0;
            m.train();
            return acc;
        }
        Variant Resume(string name, TrainingCheckpoint ck, double beta2, bool restoreOptimizer)
        {
            var m = NewModel(); // its own init is overwritten by the checkpoint
            var opt = optim.Adam(m.parameters(), 1e-3, 0.9, beta2);
            TorchCheckpointAdapter.Restore(ck, m, restoreOptimizer ? opt : null);
            m.train();
            var losses = new double[resumeSteps];
            for (int i = 0; i < resumeSteps; i++) losses[i] = TrainStep(m, opt, resumeAt + i);
            var acc = Accuracy(m);
            m.Dispose(); opt.Dispose();
            return new Variant(name, losses, acc);
        }

        Directory.CreateDirectory(outDir);
        var total = Stopwatch.StartNew();
        var csv = new List<string> { "beta2,variant,step,loss" };
        var table = new List<string>();
        foreach (var beta2 in beta2s)
        {
            var sw = Stopwatch.StartNew();
            // 1. Train to the resume step, capturing a checkpoint every `every` steps.
            var model = NewModel();
            var opt = optim.Adam(model.parameters(), 1e-3, 0.9, beta2);
            var checkpoints = new List<TrainingCheckpoint>();
            model.train();
            for (long step = 0; step < resumeAt; step++)
            {
                TrainStep(model, opt, step);
                if ((step + 1) % every == 0) checkpoints.Add(TorchCheckpointAdapter.Capture(model, opt, step + 1));
            }
            if (checkpoints.Count == 0 || checkpoints[^1].Step != resumeAt) checkpoints.Add(TorchCheckpointAdapter.Capture(model, opt, resumeAt));
            model.Dispose(); opt.Dispose();
            double trainSec = sw.Elapsed.TotalSeconds;

            // 2. Resume from the uncompressed checkpoint (the reference) and from decoded chain steps.
            var variants = new List<Variant> { Resume("uncompressed", checkpoints[^1], beta2, true) };
            var kept = new List<string>();
            foreach (var alpha in alphas)
            {
                var dir = Path.Combine(outDir, $"resume-chain-b2-{beta2.ToString(CultureInfo.InvariantCulture)}-a-{alpha:G3}");
                if (Directory.Exists(dir)) Directory.Delete(dir, true);
                var chain = ExcpChain.Open(dir, new ExcpOptions { Alpha = alpha });
                double mKept = 0; int links = 0;
                foreach (var c in checkpoints)
                {
                    var r = chain.Append(c);
                    if (r.Entry.IsKeyFrame) continue;
                    links++;
                    mKept += r.Statistics.Values.Sum(s => (double)s.MomentKept) / r.Statistics.Values.Sum(s => s.Elements);
                }
                var decoded = ExcpChain.Open(dir).Read(resumeAt);
                kept.Add($"α {alpha:G3}: moments kept {mKept / Math.Max(1, links) * 100:F1} % per link");
                TrainingCheckpoint WithStep(long s) =>
                    new(decoded.Step, decoded.Parameters.Select(p => p.Adam == null ? p : p with { Adam = p.Adam with { Step = s } }), decoded.Optimizer);
                variants.Add(Resume($"ExCP α {alpha:G2}, true step", decoded, beta2, true));
                // Restart Adam's bias correction (step 0) but keep the decoded moments: for the entries ExCP zeroed, the
                // refilled moments are then unbiased again, as for a fresh optimizer; the kept ones still count. This is
                // what the trainers do after a lossy link (ExcpOptions.ResumeAdamStep = Restart).
                variants.Add(Resume($"ExCP α {alpha:G2}, step reset", WithStep(0), beta2, true));
                if (alpha == alphas[0])
                {
                    // The official recon keeps the chain base's step (method note §2.6); and a fresh optimizer for comparison.
                    variants.Add(Resume($"ExCP α {alpha:G2}, stale step", WithStep(checkpoints[0].Step), beta2, true));
                    variants.Add(Resume($"ExCP α {alpha:G2}, fresh Adam", decoded, beta2, false));
                }
            }
            var reference = variants[0];
            double M(double[] a, int from, int count) => a.Skip(from).Take(count).Average();
            int settled = Math.Min(100, resumeSteps);
            Console.WriteLine($"β2 = {beta2}: trained {resumeAt} steps in {trainSec:F0}s, {checkpoints.Count} checkpoints; {string.Join("; ", kept)}; resumed {resumeSteps} steps × {variants.Count} in {sw.Elapsed.TotalSeconds - trainSec:F0}s");
            foreach (var v in variants)
            {
                double first = M(v.Losses, 0, 20), last = M(v.Losses, resumeSteps - settled, settled);
                table.Add($"| {beta2} | {v.Name} | {first:F3} ({Delta(first - M(reference.Losses, 0, 20), 3)}) | {M(v.Losses, 0, 50):F3} ({Delta(M(v.Losses, 0, 50) - M(reference.Losses, 0, 50), 3)}) | " +
                    $"{last:F3} ({Delta(last - M(reference.Losses, resumeSteps - settled, settled), 3)}) | {v.Accuracy:F2} % ({Delta(v.Accuracy - reference.Accuracy, 2)}) |");
                for (int i = 0; i < resumeSteps; i++) csv.Add(FormattableString.Invariant($"{beta2},{v.Name},{resumeAt + i + 1},{v.Losses[i]:G6}"));
            }
            // Loss difference to the uncompressed resume on the same batches (moving average of 10 steps): 0 = lossless.
            var chart = new PngChart
            {
                Title = $"Resume at step {resumeAt} from ExCP vs uncompressed, Adam β2 = {beta2} (Fashion-MNIST MLP)",
                XLabel = "training step", YLabel = "loss − uncompressed resume (avg of 10 steps)",
            };
            var xs = Enumerable.Range(0, resumeSteps).Select(i => (double)(resumeAt + i + 1)).ToArray();
            foreach (var v in variants)
                chart.AddLine(v.Name, xs, Smooth(v.Losses.Zip(reference.Losses, (a, b) => a - b).ToArray(), 10));
            chart.Save(Path.Combine(outDir, $"excp-resume-beta2-{beta2.ToString(CultureInfo.InvariantCulture)}.png"), 1000, 520);
        }
        Console.WriteLine();
        Console.WriteLine($"| Adam β2 | resumed at step {resumeAt} from | mean loss, first 20 steps (Δ) | first 50 steps (Δ) | last {Math.Min(100, resumeSteps)} of {resumeSteps} steps (Δ) | test accuracy after (Δ) |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var l in table) Console.WriteLine(l);
        File.WriteAllLines(Path.Combine(outDir, "excp-resume-curves.csv"), csv);
        Console.WriteLine($"curves and charts in {outDir}; total {total.Elapsed.TotalSeconds:F0}s");
        return 0;
    }

    private static string Delta(double d, int digits)
    {
        double r = Math.Round(d, digits);
        return (r < 0 ? "-" : "+") + Math.Abs(r).ToString("F" + digits, CultureInfo.InvariantCulture);
    }

    private static double[] Smooth(double[] a, int w)
    {
        var r = new double[a.Length];
        for (int i = 0; i < a.Length; i++)
        {
            int lo = Math.Max(0, i - w + 1);
            double s = 0;
            for (int j = lo; j <= i; j++) s += a[j];
            r[i] = s / (i - lo + 1);
        }
        return r;
    }
}

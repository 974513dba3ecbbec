using System.Diagnostics;
using MLNetExtensions.Core.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Benchmarks.Pairs;

/// <summary>What the pairs share: items/s of a step, the peer's saved output compared with ours.</summary>
internal static class PairTiming
{
    /// <summary>One warm-up, then the median items/s of <paramref name="reps"/> timed calls (each in its own dispose scope).</summary>
    public static double ItemsPerSecond(int items, int reps, Action step)
    {
        void Scoped() { using var s = torch.NewDisposeScope(); step(); }
        Scoped();
        var t = new double[Math.Max(1, reps)];
        for (int i = 0; i < t.Length; i++)
        {
            var sw = Stopwatch.StartNew();
            Scoped();
            t[i] = sw.Elapsed.TotalSeconds;
        }
        Array.Sort(t);
        return items / t[t.Length / 2];
    }

    /// <summary>
    /// A 10-class image classifier's items/s: "infer" = eval forward under inference mode; "train" = train-mode forward,
    /// cross-entropy on fixed random labels and backward (what the peers time as a train step).
    /// </summary>
    public static double Classifier(torch.nn.Module<Tensor, Tensor> net, Tensor x, int batch, string mode, int reps)
    {
        if (mode == "infer")
        {
            net.eval();
            return ItemsPerSecond(batch, reps, () => { using var m = torch.inference_mode(); net.call(x); });
        }
        net.train();
        using var y = torch.randint(0, 10, batch);
        return ItemsPerSecond(batch, reps, () =>
        {
            net.zero_grad();
            torch.nn.functional.cross_entropy(net.call(x), y).backward();
        });
    }

    /// <summary>Eval output of a classifier on the prepared input, compared with the peer's (see <see cref="MaxDifference"/>).</summary>
    public static double? ClassifierDifference(torch.nn.Module<Tensor, Tensor> net, Tensor x, string script, IEnumerable<string> peerArgs, string workDir)
    {
        net.eval();
        using var m = torch.inference_mode();
        using var y = net.call(x);
        return MaxDifference(script, peerArgs, workDir, y);
    }

    /// <summary>
    /// Runs the peer once with <c>--reps 0 --save-out</c> (the eval output on the prepared input, oneDNN off) and returns
    /// max |ours − peer|; null (with a note on stderr) when the peer fails.
    /// </summary>
    public static double? MaxDifference(string script, IEnumerable<string> peerArgs, string workDir, Tensor ours)
    {
        var outPath = Path.Combine(workDir, "peer-out.npy");
        var r = PairsCommand.RunChild(PairsCommand.PeerProcess(script,
            peerArgs.Concat(["--reps", "0", "--onednn", "off", "--threads", "1", "--save-out", outPath])));
        if (r.ExitCode != 0 || !File.Exists(outPath))
        {
            Console.Error.WriteLine($"[pairs] output check failed: {r.Stderr.Trim().Split('\n').LastOrDefault()}");
            return null;
        }
        using var theirs = Npy.Read(outPath).ToTensor();
        using var d = (ours.cpu().to(float32).reshape(theirs.shape) - theirs).abs().max();
        return d.item<float>();
    }
}

using System.Diagnostics;
using System.Globalization;
using static TorchSharp.torch;

namespace MLNetExtensions.Benchmarks.Pairs;

/// <summary>
/// Temporary interleaved timing of registered pairs until the `-- pairs` runner lands (issue 20, item 2):
/// <c>-- pair-time --only id1,id2 [--rounds 5] [--reps 3] [--modes infer,train] [--profile]</c>. Ours runs in this
/// process (convolution backend = the product default), the peer in a child process with oneDNN off; per round
/// ours then peer, medians over rounds, ratio ours ÷ peer in items/s, load average before and after.
/// <c>--profile</c> prints per-module self times of our side instead (forward hooks, inference).
/// </summary>
internal static class PairTimeCommand
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static int Run(string[] argv)
    {
        var a = new BenchArgs(argv);
        Core.Torch.ConvolutionBackend.EnsureCorrect();
        set_num_threads(1);
        var only = (a.Get("only") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries);
        int rounds = a.Int("rounds", 5), reps = a.Int("reps", 3);
        foreach (var pair in PairRegistry.All.Where(p => only.Length == 0 || only.Contains(p.Id)))
        {
            var dir = Directory.CreateTempSubdirectory("pair-" + pair.Id).FullName;
            try
            {
                pair.Prepare(dir);
                Console.WriteLine($"## {pair.Name} (oneDNN {(Core.Torch.ConvolutionBackend.OneDnnEnabled == true ? "on" : "off")} ours, off peer; load {Load()})");
                if (a.Has("profile") && pair is SsaHeadPair) { SsaHeadPair.Profile(dir); continue; }
                if (a.Has("check")) Console.WriteLine($"max |ours - peer| = {pair.OutputDifference(dir):E2}");
                foreach (var mode in (a.Get("modes") ?? string.Join(",", pair.Modes)).Split(','))
                {
                    var ours = new List<double>(); var peer = new List<double>();
                    for (int r = 0; r < rounds; r++)
                    {
                        ours.Add(pair.MeasureOurs(dir, mode, reps));
                        var (script, args) = pair.Peer(dir, mode, false, reps);
                        peer.Add(PairIo.ItemsPerSecond(PairIo.RunPeer(script, args)));
                    }
                    double mo = Median(ours), mp = Median(peer);
                    Console.WriteLine(string.Format(Inv, "{0,-6} ours {1:G4} items/s [{2:G3}–{3:G3}]  peer {4:G4} [{5:G3}–{6:G3}]  ours/peer {7:F2}  (load {8})",
                        mode, mo, ours.Min(), ours.Max(), mp, peer.Min(), peer.Max(), mo / mp, Load()));
                }
            }
            finally { Directory.Delete(dir, true); }
        }
        return 0;
    }

    private static double Median(List<double> v) { var s = v.OrderBy(x => x).ToList(); return s[s.Count / 2]; }

    private static string Load() => File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}

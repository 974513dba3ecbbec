using System.Diagnostics;
using MLNetExtensions.Transforms.Segmentation;
using TorchSharp;
using static TorchSharp.torch;
using MLNetExtensions.Transforms.Ssa;

namespace MLNetExtensions.Benchmarks;

/// <summary>
/// Cost of the SSA head vs the plain 1×1 classifier on the same backbone + decoder (the networks SsaSegmenter trains):
/// inference latency of the whole network and of the head alone, and one training step (forward + official losses +
/// backward). Usage: <c>dotnet run -c Release -- ssa [batch] [size] [repeats]</c>.
/// </summary>
internal static class SsaBenchmark
{
    public static void Run(string[] args)
    {
        int batch = args.Length > 0 ? int.Parse(args[0]) : 16;
        int size = args.Length > 1 ? int.Parse(args[1]) : 64;
        int repeats = args.Length > 2 ? int.Parse(args[2]) : 20;
        Console.WriteLine($"SSA vs plain head: batch {batch}, {size}×{size} images, 11 classes, C=64, threads {torch.get_num_threads()}, {repeats} repeats (median)");
        // Both networks are built first and timed in alternation, so load changes on a shared machine hit both alike.
        var kinds = new[] { SegmentationHeadKind.Plain, SegmentationHeadKind.Ssa };
        var nets = kinds.Select(k => { torch.manual_seed(0); return new SsaSegmentationNetwork(new SsaSegmentationNetworkConfig(ConvPyramidConfig.Small, 64, k), 11); }).ToArray();
        var x = torch.randn(batch, 3, size, size);
        var y = torch.randint(0, 11, new long[] { batch, size, size });
        var netT = new List<double>[2]; var headT = new List<double>[2]; var trainT = new List<double>[2];
        for (int i = 0; i < 2; i++) { netT[i] = new(); headT[i] = new(); trainT[i] = new(); }
        var feats = new Tensor[2];
        using (torch.inference_mode())
            for (int i = 0; i < 2; i++) { nets[i].eval(); feats[i] = nets[i].Decoder.Fuse(FeaturesOf(nets[i], x)); }
        for (int r = -2; r < repeats; r++) // two warm-up rounds
            for (int i = 0; i < 2; i++)
            {
                var net = nets[i];
                net.eval();
                using (torch.inference_mode())
                {
                    var t1 = Time(() => { using var s = torch.NewDisposeScope(); net.call(x); });
                    var t2 = Time(() => { for (int k = 0; k < 5; k++) { using var s = torch.NewDisposeScope(); net.Decoder.Head.call(feats[i]); } }) / 5;
                    if (r >= 0) { netT[i].Add(t1); headT[i].Add(t2); }
                }
                if (r % 4 != 0 && r >= 0) continue; // a train step every 4th round (slow)
                net.train();
                var t3 = Time(() =>
                {
                    using var s = torch.NewDisposeScope();
                    net.Loss(net.Run(x), y).Total.backward();
                    net.zero_grad();
                });
                if (r >= 0) trainT[i].Add(t3);
            }
        var med = new (double Net, double Head, double Train)[2];
        for (int i = 0; i < 2; i++)
        {
            med[i] = (Median(netT[i]), Median(headT[i]), Median(trainT[i]));
            long all = nets[i].parameters().Sum(p => p.numel());
            long infer = all - nets[i].named_parameters().Where(p => p.name.Contains(".gt_")).Sum(p => p.parameter.numel());
            Console.WriteLine($"{kinds[i],-6} network {med[i].Net,8:F2} ms  head {med[i].Head,7:F3} ms  train step {med[i].Train,8:F1} ms  params {all:N0} (inference {infer:N0})");
        }
        Console.WriteLine($"SSA/plain: network {med[1].Net / med[0].Net:F2}×, head {med[1].Head / med[0].Head:F1}× " +
            $"(SSA head = {100 * med[1].Head / med[1].Net:F1}% of the SSA network), train step {med[1].Train / med[0].Train:F2}×");
        foreach (var n in nets) n.Dispose();
    }

    private static double Time(Action a) { var sw = Stopwatch.StartNew(); a(); return sw.Elapsed.TotalMilliseconds; }

    private static double Median(List<double> t) { var s = t.OrderBy(v => v).ToList(); return s[s.Count / 2]; }

    private static Tensor[] FeaturesOf(SsaSegmentationNetwork net, Tensor x) =>
        net.named_children().First(c => c.name == "backbone").module is nn.Module<Tensor, Tensor[]> b ? b.call(x) : throw new InvalidOperationException();

}

using System.Diagnostics;
using MLNetExtensions.Transforms.Segmentation;
using TorchSharp;
using static TorchSharp.torch;

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
        var results = new Dictionary<SegmentationHeadKind, (double Net, double Head, double Train, long Params, long InferParams)>();
        foreach (var kind in new[] { SegmentationHeadKind.Plain, SegmentationHeadKind.Ssa })
        {
            torch.manual_seed(0);
            var cfg = new SsaSegmentationNetworkConfig(ConvPyramidConfig.Small, 64, kind);
            using var net = new SsaSegmentationNetwork(cfg, 11);
            var x = torch.randn(batch, 3, size, size);
            var y = torch.randint(0, 11, new long[] { batch, size, size });
            net.eval();
            double netMs, headMs;
            using (torch.inference_mode())
            {
                netMs = Median(repeats, () => { using var s = torch.NewDisposeScope(); net.call(x); });
                var feat = net.Decoder.Fuse(FeaturesOf(net, x));
                headMs = Median(repeats * 5, () => { using var s = torch.NewDisposeScope(); net.Decoder.Head.call(feat); });
            }
            net.train();
            double trainMs = Median(Math.Max(3, repeats / 4), () =>
            {
                using var s = torch.NewDisposeScope();
                var loss = net.Loss(net.Run(x), y).Total;
                loss.backward();
                net.zero_grad();
            });
            long all = net.parameters().Sum(p => p.numel());
            long infer = all - net.named_parameters().Where(p => p.name.Contains(".gt_")).Sum(p => p.parameter.numel());
            results[kind] = (netMs, headMs, trainMs, all, infer);
            Console.WriteLine($"{kind,-6} network {netMs,8:F2} ms  head {headMs,7:F3} ms  train step {trainMs,8:F1} ms  params {all:N0} (inference {infer:N0})");
        }
        var (p, q) = (results[SegmentationHeadKind.Plain], results[SegmentationHeadKind.Ssa]);
        Console.WriteLine($"SSA/plain: network {q.Net / p.Net:F2}×, head {q.Head / p.Head:F1}×, train step {q.Train / p.Train:F2}×, inference params +{q.InferParams - p.InferParams:N0}");
    }

    private static Tensor[] FeaturesOf(SsaSegmentationNetwork net, Tensor x) =>
        net.named_children().First(c => c.name == "backbone").module is nn.Module<Tensor, Tensor[]> b ? b.call(x) : throw new InvalidOperationException();

    private static double Median(int n, Action a)
    {
        a(); a(); // warm-up
        var t = new double[n];
        for (int i = 0; i < n; i++) { var sw = Stopwatch.StartNew(); a(); t[i] = sw.Elapsed.TotalMilliseconds; }
        Array.Sort(t);
        return t[n / 2];
    }
}

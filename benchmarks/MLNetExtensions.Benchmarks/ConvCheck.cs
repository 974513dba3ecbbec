using MLNetExtensions.Core.Torch;
using MLNetExtensions.Transforms.TinyViM;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Benchmarks;

/// <summary>Reports the oneDNN convolution check and the cost of the correct path for TinyViM training steps.</summary>
internal static class ConvCheck
{
    public static int Run(string[] argv)
    {
        var a = new BenchArgs(argv);
        torch.set_num_threads(a.Int("threads", Environment.ProcessorCount));
        double TimeStep()
        {
            torch.manual_seed(0);
            using var net = new TinyViMModel(TinyViMConfig.Named(a.Get("variant") ?? "Tiny"), 10, false);
            using var x = torch.rand(64, 3, 64, 64);
            using var y = torch.randint(0, 10, 64);
            return BenchArgs.MedianMs(3, () => { using var s = torch.NewDisposeScope(); net.zero_grad(); nn.functional.cross_entropy(net.call(x), y).backward(); });
        }
        Console.WriteLine($"oneDNN enabled: {ConvolutionBackend.OneDnnEnabled}, probe error {ConvolutionBackend.Probe():E2}");
        var fast = TimeStep();
        ConvolutionBackend.EnsureCorrect();
        Console.WriteLine($"after EnsureCorrect: oneDNN enabled {ConvolutionBackend.OneDnnEnabled}, disabled by check {ConvolutionBackend.DisabledOneDnn}, probe error {ConvolutionBackend.Probe():E2}");
        var slow = TimeStep();
        Console.WriteLine($"TinyViM fwd+bwd batch 64 @64×64: {fast:F0} ms before, {slow:F0} ms after");
        return 0;
    }
}

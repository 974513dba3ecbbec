using MLNetExtensions.Core.IO;
using MLNetExtensions.Transforms.TinyViM;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace MLNetExtensions.Benchmarks.Pairs;

/// <summary>
/// TinyViM (ours: src/Transforms/TinyViM) against python/tinyvim_bench.py (the official modules re-stated in PyTorch
/// 1.13, loading our weights with strict=True): infer = eval forward, train = forward + backward with cross-entropy.
/// </summary>
internal sealed class TinyViMPair(string id, string variant, int size, int batch) : PeerPair
{
    public override string Name => $"TinyViM {(variant == "Tiny" ? "Tiny" : "TinyViM_" + variant)}, {size}×{size}, batch {batch}";
    public override string Id => id;

    private static string Weights(string dir) => Path.Combine(dir, "weights.pt");
    private static string Input(string dir) => Path.Combine(dir, "x.npy");

    public override void Prepare(string workDir)
    {
        torch.manual_seed(0);
        using var net = new TinyViMModel(TinyViMConfig.Named(variant), 10, distillation: false);
        net.save_py(Weights(workDir));
        using var x = torch.rand(batch, 3, size, size);
        Npy.Write(Input(workDir), x.data<float>().ToArray(), batch, 3, size, size);
    }

    private (TinyViMModel Net, Tensor X) Load(string workDir)
    {
        var net = new TinyViMModel(TinyViMConfig.Named(variant), 10, distillation: false);
        net.load_py(Weights(workDir));
        return (net, Npy.Read(Input(workDir)).ToTensor());
    }

    public override double MeasureOurs(string workDir, string mode, int reps)
    {
        var (net, x) = Load(workDir);
        using (net) using (x) return PairTiming.Classifier(net, x, batch, mode, reps);
    }

    public override (string Script, string[] Arguments) Peer(string workDir, string mode, bool oneDnn, int reps) =>
        ("tinyvim_bench.py", ["--mode", mode, ..CommonArgs(workDir), "--onednn", oneDnn ? "on" : "off", "--threads", "1", "--reps", reps.ToString()]);

    private string[] CommonArgs(string workDir) => ["--variant", variant, "--weights", Weights(workDir), "--x", Input(workDir)];

    public override double? OutputDifference(string workDir)
    {
        var (net, x) = Load(workDir);
        using (net) using (x) return PairTiming.ClassifierDifference(net, x, "tinyvim_bench.py", ["--mode", "infer", ..CommonArgs(workDir)], workDir);
    }
}

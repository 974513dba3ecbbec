using MLNetExtensions.Core.IO;
using MLNetExtensions.Transforms.Slab;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace MLNetExtensions.Benchmarks.Pairs;

/// <summary>
/// SLAB-DeiT-Tiny geometry (192 wide, 12 SLA blocks, 3 heads, patch 16 on 224², i.e. 196 tokens; PRepBN, 10 classes)
/// against python/slab_bench.py (official slab_deit / prepbn re-stated in PyTorch 1.13, strict state-dict load):
/// infer = eval forward (RepBN branch), train = forward + backward with cross-entropy (PRepBN at the start of its schedule).
/// </summary>
internal sealed class SlabDeitPair(int batch) : PeerPair
{
    public override string Name => $"SLAB-DeiT (196 tokens), batch {batch}";
    public override string Id => "slab-deit";

    private static SlabDeitConfig Config => SlabDeitConfig.SlabDeitTiny with { NumClasses = 10 };
    private static string Weights(string dir) => Path.Combine(dir, "weights.pt");
    private static string Input(string dir) => Path.Combine(dir, "x.npy");

    public override void Prepare(string workDir)
    {
        torch.manual_seed(0);
        using var net = new SlabDeit(Config);
        net.save_py(Weights(workDir));
        using var x = torch.rand(batch, 3, 224, 224);
        Npy.Write(Input(workDir), x.data<float>().ToArray(), batch, 3, 224, 224);
    }

    private static (SlabDeit Net, Tensor X) Load(string workDir)
    {
        var net = new SlabDeit(Config);
        net.load_py(Weights(workDir));
        return (net, Npy.Read(Input(workDir)).ToTensor());
    }

    public override double MeasureOurs(string workDir, string mode, int reps)
    {
        var (net, x) = Load(workDir);
        using (net) using (x) return PairTiming.Classifier(net, x, batch, mode, reps);
    }

    public override (string Script, string[] Arguments) Peer(string workDir, string mode, bool oneDnn, int reps) =>
        ("slab_bench.py", ["--mode", mode, "--weights", Weights(workDir), "--x", Input(workDir), "--onednn", oneDnn ? "on" : "off", "--threads", "1", "--reps", reps.ToString()]);

    public override double? OutputDifference(string workDir)
    {
        var (net, x) = Load(workDir);
        using (net) using (x)
        {
            net.eval();
            using var m = torch.inference_mode();
            using var y = net.call(x);
            return PairTiming.MaxDifference("slab_bench.py", ["--mode", "infer", "--weights", Weights(workDir), "--x", Input(workDir)], workDir, y);
        }
    }
}

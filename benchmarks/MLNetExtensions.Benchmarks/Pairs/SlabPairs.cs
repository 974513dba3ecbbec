using MLNetExtensions.Core.IO;
using MLNetExtensions.Transforms.Slab;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace MLNetExtensions.Benchmarks.Pairs;

/// <summary>
/// A SLAB classifier against python/slab_bench.py (official slab_deit / slab_swin / prepbn re-stated in PyTorch 1.13,
/// strict state-dict load): infer = eval forward (RepBN branch), train = forward + backward with cross-entropy (PRepBN
/// at the start of its schedule). The two families differ only in the model, the input side and the peer's --arch.
/// </summary>
internal abstract class SlabPair(int batch, int imageSize) : PeerPair
{
    protected abstract nn.Module<Tensor, Tensor> Build();
    protected abstract string[] PeerArch { get; }

    private static string Weights(string dir) => Path.Combine(dir, "weights.pt");
    private static string Input(string dir) => Path.Combine(dir, "x.npy");

    public override void Prepare(string workDir)
    {
        torch.manual_seed(0);
        using var net = Build();
        net.save_py(Weights(workDir));
        using var x = torch.rand(batch, 3, imageSize, imageSize);
        Npy.Write(Input(workDir), x.data<float>().ToArray(), batch, 3, imageSize, imageSize);
    }

    private (nn.Module<Tensor, Tensor> Net, Tensor X) Load(string workDir)
    {
        var net = Build();
        net.load_py(Weights(workDir));
        return (net, Npy.Read(Input(workDir)).ToTensor());
    }

    public override double MeasureOurs(string workDir, string mode, int reps)
    {
        var (net, x) = Load(workDir);
        using (net) using (x) return PairTiming.Classifier(net, x, batch, mode, reps);
    }

    private string[] PeerArgs(string workDir, string mode) =>
        ["--mode", mode, .. PeerArch, "--weights", Weights(workDir), "--x", Input(workDir)];

    public override (string Script, string[] Arguments) Peer(string workDir, string mode, bool oneDnn, int reps) =>
        ("slab_bench.py", [.. PeerArgs(workDir, mode), "--onednn", oneDnn ? "on" : "off", "--threads", "1", "--reps", reps.ToString()]);

    public override double? OutputDifference(string workDir)
    {
        var (net, x) = Load(workDir);
        using (net) using (x) return PairTiming.ClassifierDifference(net, x, "slab_bench.py", PeerArgs(workDir, "infer"), workDir);
    }
}

/// <summary>SLAB-DeiT-Tiny geometry (192 wide, 12 SLA blocks, 3 heads, patch 16 on 224², i.e. 196 tokens; PRepBN, 10 classes).</summary>
internal sealed class SlabDeitPair(int batch) : SlabPair(batch, 224)
{
    public override string Name => $"SLAB-DeiT (196 tokens), batch {batch}";
    public override string Id => "slab-deit";
    protected override nn.Module<Tensor, Tensor> Build() => new SlabDeit(SlabDeitConfig.SlabDeitTiny with { NumClasses = 10 });
    protected override string[] PeerArch => ["--arch", "deit"];
}

/// <summary>
/// SLAB-Swin at the suite's CPU size (slab_swin_micro: patch 2, 32 wide, depths 2-2, heads 2-4, "LS": a global SLA
/// stage on 14×14 tokens, then a softmax window stage on 7×7) on 28² RGB, PRepBN, 10 classes.
/// </summary>
internal sealed class SlabSwinPair(int batch) : SlabPair(batch, 28)
{
    public override string Name => $"SLAB-Swin micro (28²), batch {batch}";
    public override string Id => "slab-swin";
    protected override nn.Module<Tensor, Tensor> Build() =>
        new SlabSwinTransformer(SlabArchitecture.SwinVariant("micro") with { ImgSize = 28, InChans = 3, NumClasses = 10 });
    protected override string[] PeerArch => ["--arch", "swin-micro", "--img", "28"];
}

using MLNetExtensions.Core.IO;
using MLNetExtensions.Transforms.SqueezeTime;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace MLNetExtensions.Benchmarks.Pairs;

/// <summary>
/// SqueezeTime recognizer (backbone + I2DHead) against python/squeezetime_bench.py: inference (eval, inference mode)
/// and one AdamW(1e-4) training step on cross-entropy, items = clips.
/// </summary>
public abstract class SqueezeTimePair : PeerPair
{
    /// <summary>Config, frames, side and batch of the row.</summary>
    protected abstract (SqueezeTimeConfig Config, string Variant, int Side, int Batch) Setup { get; }

    /// <inheritdoc/>
    public override void Prepare(string workDir)
    {
        var (cfg, _, side, batch) = Setup;
        manual_seed(0);
        using var model = new SqueezeTimeModel(cfg);
        model.save_py(Path.Combine(workDir, "weights.pt"));
        var gen = new Generator(1);
        using var x = randn(new long[] { batch, cfg.ImageChannels, cfg.Frames, side, side }, generator: gen);
        Npy.Write(Path.Combine(workDir, "x.npy"), x.data<float>().ToArray(), x.shape);
        using var y = randint(0, cfg.NumClasses, new long[] { batch }, generator: gen);
        Npy.Write(Path.Combine(workDir, "y.npy"), y.to(ScalarType.Float32).data<float>().ToArray(), batch);
    }

    /// <summary>The model with the prepared weights, the input and the labels.</summary>
    public (SqueezeTimeModel Model, Tensor X, Tensor Y) Load(string workDir)
    {
        var model = new SqueezeTimeModel(Setup.Config);
        model.load_py(Path.Combine(workDir, "weights.pt"), strict: true);
        foreach (var p in model.parameters()) p.requires_grad = true; // load_py leaves them off
        var x = PairIo.Load(Path.Combine(workDir, "x.npy"));
        var y = PairIo.Load(Path.Combine(workDir, "y.npy")).to(ScalarType.Int64);
        return (model, x, y);
    }

    /// <summary>One timed unit of <paramref name="mode"/> (built once, called per repetition).</summary>
    public Action Step(SqueezeTimeModel model, Tensor x, Tensor y, string mode)
    {
        if (mode == "infer")
            return () => { model.eval(); using var s = NewDisposeScope(); using var m = inference_mode(); model.call(x); };
        var opt = optim.AdamW(model.parameters(), 1e-4);
        return () =>
        {
            model.train();
            using var s = NewDisposeScope();
            opt.zero_grad();
            nn.functional.cross_entropy(model.call(x), y).backward();
            opt.step();
        };
    }

    /// <inheritdoc/>
    public override double MeasureOurs(string workDir, string mode, int reps)
    {
        var (model, x, y) = Load(workDir);
        using (model) using (x) using (y)
            return Setup.Batch * 1000.0 / BenchArgs.MedianMs(reps, Step(model, x, y, mode));
    }

    /// <inheritdoc/>
    public override (string Script, string[] Arguments) Peer(string workDir, string mode, bool oneDnn, int reps) =>
        ("squeezetime_bench.py", ["--variant", Setup.Variant, "--weights", Path.Combine(workDir, "weights.pt"),
            "--x", Path.Combine(workDir, "x.npy"), "--y", Path.Combine(workDir, "y.npy"), "--mode", mode,
            "--reps", reps.ToString(), "--threads", "1", "--onednn", oneDnn ? "on" : "off"]);

    /// <inheritdoc/>
    public override double? OutputDifference(string workDir)
    {
        var out_ = Path.Combine(workDir, "peer_out.npy");
        var (script, args) = Peer(workDir, "infer", false, 1);
        PairIo.RunPeer(script, [.. args, "--out", out_]);
        var (model, x, y) = Load(workDir);
        using (model) using (x) using (y)
        using (inference_mode())
        {
            model.eval();
            using var ours = model.call(x);
            using var theirs = PairIo.Load(out_);
            return (ours - theirs).abs().max().item<float>();
        }
    }
}

/// <summary>The released K400 network at 16×112², batch 2.</summary>
public sealed class SqueezeTimeK400Pair : SqueezeTimePair
{
    /// <inheritdoc/>
    public override string Name => "SqueezeTime K400, 16×112², batch 2";
    /// <inheritdoc/>
    public override string Id => "squeezetime-k400";
    /// <inheritdoc/>
    protected override (SqueezeTimeConfig, string, int, int) Setup => (SqueezeTimeConfig.K400, "k400", 112, 2);
}

/// <summary>SqueezeTime Tiny (the example's network) at 8×32², batch 16.</summary>
public sealed class SqueezeTimeTinyPair : SqueezeTimePair
{
    /// <inheritdoc/>
    public override string Name => "SqueezeTime Tiny, 8×32², batch 16";
    /// <inheritdoc/>
    public override string Id => "squeezetime-tiny";
    /// <inheritdoc/>
    protected override (SqueezeTimeConfig, string, int, int) Setup => (SqueezeTimeConfig.Tiny(numClasses: 4, frames: 8), "tiny", 32, 16);
}

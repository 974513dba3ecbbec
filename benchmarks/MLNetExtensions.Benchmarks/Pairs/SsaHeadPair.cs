using MLNetExtensions.Core.IO;
using MLNetExtensions.Transforms.Ssa;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace MLNetExtensions.Benchmarks.Pairs;

/// <summary>
/// The SSA head at ADE20K size (C 256, K 150, 64² decoder features, 256² labels, batch 2) against python/ssa_bench.py:
/// <c>loss</c> = student + teacher + the eight official loss terms in training mode, <c>train</c> = the same + backward.
/// Items = images. Labels: background 0 plus 12 random rectangles per image of classes 1…149, and an ignore patch.
/// </summary>
public sealed class SsaHeadPair : PeerPair
{
    private const int Batch = 2, Channels = 256, Classes = 150, FeatSide = 64, LabelSide = 256;

    /// <inheritdoc/>
    public override string Name => "SSA head, ADE-sized (C 256, K 150, 64² features, 256² labels), batch 2";
    /// <inheritdoc/>
    public override string Id => "ssa-head";
    /// <inheritdoc/>
    public override IReadOnlyList<string> Modes => ["loss", "train"];

    /// <inheritdoc/>
    public override void Prepare(string workDir)
    {
        manual_seed(0);
        using var head = new SsaHead(new SsaHeadConfig(Channels, Classes));
        head.save_py(Path.Combine(workDir, "weights.pt"));
        var gen = new Generator(3);
        using var feat = randn(new long[] { Batch, Channels, FeatSide, FeatSide }, generator: gen);
        Npy.Write(Path.Combine(workDir, "feat.npy"), feat.data<float>().ToArray(), feat.shape);
        var rng = new Random(5);
        var label = new float[Batch * LabelSide * LabelSide];
        for (int b = 0; b < Batch; b++)
        {
            for (int r = 0; r < 13; r++)
            {
                int cls = r == 12 ? 255 : rng.Next(1, Classes);
                int y0 = rng.Next(LabelSide - 16), x0 = rng.Next(LabelSide - 16);
                int hh = rng.Next(16, r == 12 ? 32 : 120), ww = rng.Next(16, r == 12 ? 32 : 120);
                for (int y = y0; y < Math.Min(LabelSide, y0 + hh); y++)
                    for (int x = x0; x < Math.Min(LabelSide, x0 + ww); x++)
                        label[(b * LabelSide + y) * LabelSide + x] = cls;
            }
        }
        Npy.Write(Path.Combine(workDir, "label.npy"), label, Batch, LabelSide, LabelSide);
    }

    /// <summary>The head with the prepared weights, the features and the labels.</summary>
    public static (SsaHead Head, Tensor Feat, Tensor Label) Load(string workDir)
    {
        var head = new SsaHead(new SsaHeadConfig(Channels, Classes));
        head.load_py(Path.Combine(workDir, "weights.pt"), strict: true);
        foreach (var p in head.parameters()) p.requires_grad = true;
        return (head, PairIo.Load(Path.Combine(workDir, "feat.npy")), PairIo.Load(Path.Combine(workDir, "label.npy")).to(ScalarType.Int64));
    }

    /// <summary>One timed unit of <paramref name="mode"/>.</summary>
    public static Action Step(SsaHead head, Tensor feat, Tensor label, string mode)
    {
        var x = mode == "train" ? feat.detach().requires_grad_(true) : feat;
        return () =>
        {
            head.train();
            using var s = NewDisposeScope();
            head.zero_grad();
            var loss = head.Loss(head.Run(x), label);
            if (mode == "train") loss.Total.backward();
        };
    }

    /// <inheritdoc/>
    public override double MeasureOurs(string workDir, string mode, int reps)
    {
        var (head, feat, label) = Load(workDir);
        using (head) using (feat) using (label)
            return Batch * 1000.0 / BenchArgs.MedianMs(reps, Step(head, feat, label, mode));
    }

    /// <inheritdoc/>
    public override (string Script, string[] Arguments) Peer(string workDir, string mode, bool oneDnn, int reps) =>
        ("ssa_bench.py", ["--weights", Path.Combine(workDir, "weights.pt"), "--feat", Path.Combine(workDir, "feat.npy"),
            "--label", Path.Combine(workDir, "label.npy"), "--mode", mode, "--reps", reps.ToString(), "--threads", "1",
            "--onednn", oneDnn ? "on" : "off"]);

    /// <summary>Max |ours − peer| over the loss terms of one eval-mode pass, the response-KD term excepted (the peer's
    /// edge mask is a neighbour-difference stand-in for cv2.Canny, absent here).</summary>
    public override double? OutputDifference(string workDir)
    {
        var outPath = Path.Combine(workDir, "peer_losses.npy");
        var (script, args) = Peer(workDir, "loss", false, 1);
        PairIo.RunPeer(script, [.. args, "--out", outPath]);
        var (head, feat, label) = Load(workDir);
        using (head) using (feat) using (label)
        using (no_grad())
        {
            head.eval();
            var loss = head.Loss(head.Run(feat), label);
            var theirs = Npy.Read(outPath).ToFloat();
            double max = 0;
            for (int i = 0; i < loss.Terms.Count; i++)
                if (i != 3) max = Math.Max(max, Math.Abs(loss.Terms[i].Value.item<float>() - theirs[i]));
            return max;
        }
    }

    /// <summary>Stopwatch times (ms, median of 3) of the pieces of our forward + loss, training mode.</summary>
    public static void Profile(string workDir)
    {
        var (head, feat, label) = Load(workDir);
        head.train();
        using var scope = NewDisposeScope();
        var o = (SsaHeadOutput)head.Run(feat);
        var yFeat = Transforms.Segmentation.SegmentationLossFunctions.NearestLabel(label, FeatSide, FeatSide);
        var edges = LabelEdges.Compute(yFeat, head.Config.EdgeBorder);
        var t = head.Teacher(o, label);
        var up = Transforms.Segmentation.SegmentationLossFunctions.Resize(o.Logits, LabelSide, LabelSide, true);
        var pieces = new (string, Action)[]
        {
            ("student Run", () => head.Run(feat)),
            ("teacher", () => head.Teacher(o, label)),
            ("edges", () => LabelEdges.Compute(yFeat, head.Config.EdgeBorder)),
            ("response KD", () => SsaDistillation.Response(o.Logits, t.Logits, yFeat, edges)),
            ("resize x1", () => Transforms.Segmentation.SegmentationLossFunctions.Resize(o.Logits, LabelSide, LabelSide, true)),
            ("CE non-ignored x1", () => Transforms.Segmentation.SegmentationLossFunctions.CrossEntropyNonIgnored(up, label)),
            ("CE all x1", () => Transforms.Segmentation.SegmentationLossFunctions.CrossEntropyAllPixels(up, label)),
            ("dice x1", () => Transforms.Segmentation.SegmentationLossFunctions.Dice(up, label)),
            ("relation+pos KD", () => { SsaDistillation.Relation(o.PredProto, t.GtProto); SsaDistillation.Position(o.CenterPos, t.GtCenterPos); }),
            ("whole Loss", () => head.Loss(o, label)),
        };
        foreach (var (name, act) in pieces)
            Console.WriteLine($"{name,-20} {BenchArgs.MedianMs(3, () => { using var s = NewDisposeScope(); act(); }),9:F1} ms");
        head.Dispose();
    }
}

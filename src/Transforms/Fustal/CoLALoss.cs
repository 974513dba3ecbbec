using MLNetExtensions.Core.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Fustal;

/// <summary>
/// FuSTAL's teacher loss (<c>TotalLoss</c>, note fustal.md §3.3): <c>L_cls + λ·(L_IV + (w/|P|)·Σ_P L_CV)</c> with
/// BCE on <c>y/‖y‖₁</c>, CoLA's in-video snippet contrast and the in-batch cross-video contrast over pairs of videos
/// with identical multi-hot labels. λ = 0.01, w = 0.2 officially; w = 0 switches the cross-video term off.
/// </summary>
public static class CoLALoss
{
    /// <summary>InfoNCE with L2-normalised vectors: q, k (B, E), negatives (B, K, E); mean over B of <c>−log softmax(logits)[0]</c>.</summary>
    public static Tensor Nce(Tensor q, Tensor k, Tensor negatives, double temperature = 0.07)
    {
        using var scope = NewDisposeScope();
        var qn = nn.functional.normalize(q, p: 2, dim: 1);
        var kn = nn.functional.normalize(k, p: 2, dim: 1);
        var nn_ = nn.functional.normalize(negatives.permute(0, 2, 1), p: 2, dim: 1); // (B, E, K)
        var lPos = (qn * kn).sum(1).unsqueeze(-1);
        var lNeg = bmm(qn.unsqueeze(1), nn_).squeeze(1);
        var logits = cat(new[] { lPos, lNeg }, 1).Over(temperature); // rooted (TorchSharp 0.107 temporary-Scalar race)
        var labels = zeros(logits.shape[0], ScalarType.Int64, device: logits.device);
        return nn.functional.cross_entropy(logits, labels).MoveToOuterDisposeScope();
    }

    /// <summary>CoLA SniCo: <c>NCE(mean HA, mean EA, EB) + NCE(mean HB, mean EB, EA)</c>.</summary>
    public static Tensor InVideo(Tensor easyAction, Tensor hardAction, Tensor easyBackground, Tensor hardBackground, double temperature = 0.07)
    {
        using var scope = NewDisposeScope();
        var ha = Nce(hardAction.mean(new long[] { 1 }), easyAction.mean(new long[] { 1 }), easyBackground, temperature);
        var hb = Nce(hardBackground.mean(new long[] { 1 }), easyBackground.mean(new long[] { 1 }), easyAction, temperature);
        return ha.Plus(hb).MoveToOuterDisposeScope();
    }

    /// <summary>Pairs (i &lt; j) of batch videos whose multi-hot labels are identical (official <c>select_pairs</c> order).</summary>
    public static List<(int A, int B)> SelectPairs(Tensor labels)
    {
        int b = (int)labels.shape[0], c = (int)labels.shape[1];
        var y = labels.detach().cpu().to_type(ScalarType.Float32).data<float>().ToArray();
        var pairs = new List<(int, int)>();
        for (int i = 0; i < b; i++)
            for (int j = i + 1; j < b; j++)
                if (y.AsSpan(i * c, c).SequenceEqual(y.AsSpan(j * c, c))) pairs.Add((i, j));
        return pairs;
    }

    /// <summary>
    /// Cross-video term of one pair: the in-video contrast with hard snippets taken from the other video, averaged over the
    /// two directions (a batch of two: EA/EB of a with HA/HB of b, and EA/EB of b with HA/HB of a).
    /// </summary>
    public static Tensor CrossVideo(CoLAOutput o, int a, int b, double temperature = 0.07)
    {
        using var scope = NewDisposeScope();
        Tensor Pick(Tensor t, int first, int second) => stack(new[] { t[first], t[second] });
        var loss = InVideo(Pick(o.EasyAction, a, b), Pick(o.HardAction, b, a), Pick(o.EasyBackground, a, b), Pick(o.HardBackground, b, a), temperature);
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>BCE of the video scores against <c>y/‖y‖₁</c> (every video needs at least one label).</summary>
    public static Tensor Action(Tensor videoScores, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var sums = labels.sum(1, keepdim: true);
        if (sums.min().item<float>() <= 0) throw new ArgumentException("Every video needs at least one positive label (y/‖y‖₁ is undefined otherwise).", nameof(labels));
        return nn.functional.binary_cross_entropy(videoScores, labels / sums).MoveToOuterDisposeScope();
    }

    /// <summary>The total teacher loss and its parts (classification, contrast incl. cross-video, number of pairs).</summary>
    public static (Tensor Total, Tensor Classification, Tensor Contrast, int Pairs) Total(
        CoLAOutput o, Tensor labels, double contrastWeight = 0.01, double crossVideoWeight = 0.2, double temperature = 0.07)
    {
        using var scope = NewDisposeScope();
        var cls = Action(o.VideoScores, labels);
        var contrast = InVideo(o.EasyAction, o.HardAction, o.EasyBackground, o.HardBackground, temperature);
        var pairs = crossVideoWeight == 0 ? new List<(int, int)>() : SelectPairs(labels);
        // Rooted Scalars: TorchSharp 0.107 passes temporary Scalars to LibTorch unrooted (a GC can free them mid-call).
        var pairWeight = pairs.Count == 0 ? 0.0 : crossVideoWeight / pairs.Count;
        foreach (var (a, b) in pairs)
            contrast = contrast.Plus(CrossVideo(o, a, b, temperature).Times(pairWeight));
        var total = cls.Plus(contrast.Times(contrastWeight));
        return (total.MoveToOuterDisposeScope(), cls.MoveToOuterDisposeScope(), contrast.MoveToOuterDisposeScope(), pairs.Count);
    }
}

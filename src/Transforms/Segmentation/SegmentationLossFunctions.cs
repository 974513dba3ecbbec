using MLNetExtensions.Core.Torch;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using MLNetExtensions.Transforms.Ssa;

namespace MLNetExtensions.Transforms.Segmentation;

/// <summary>
/// Loss building blocks shared by the segmentation heads, with mmsegmentation 0.30 semantics.
/// Labels are B×H×W int64 with 255 as the ignore label.
/// </summary>
public static class SegmentationLossFunctions
{
    /// <summary>
    /// mmseg <c>CrossEntropyLoss</c> with <c>avg_non_ignore=False</c> (its default): per-pixel CE, ignored pixels
    /// contribute 0 but still count in the denominator (mean over all B·H·W pixels).
    /// </summary>
    public static Tensor CrossEntropyAllPixels(Tensor logits, Tensor label, int ignoreIndex = SegmentationHead.IgnoreIndex)
    {
        using var perPixel = F.cross_entropy(logits, label, ignore_index: ignoreIndex, reduction: nn.Reduction.None);
        return perPixel.mean();
    }

    /// <summary><c>nn.CrossEntropyLoss(ignore_index=255)</c>: mean over non-ignored pixels only.</summary>
    public static Tensor CrossEntropyNonIgnored(Tensor logits, Tensor label, int ignoreIndex = SegmentationHead.IgnoreIndex) =>
        F.cross_entropy(logits, label, ignore_index: ignoreIndex, reduction: nn.Reduction.Mean);

    /// <summary>Bilinear resize of B×K×h×w logits to (height, width).</summary>
    public static Tensor Resize(Tensor logits, long height, long width, bool alignCorners) =>
        F.interpolate(logits, size: new[] { height, width }, mode: InterpolationMode.Bilinear, align_corners: alignCorners);

    /// <summary>
    /// PyTorch 'nearest' resize of a B×H×W label map to (height, width): source index = floor(dst·in/out),
    /// as <c>F.interpolate(y.float(), size, mode='nearest')</c> in the official code.
    /// </summary>
    public static Tensor NearestLabel(Tensor label, long height, long width)
    {
        if (label.shape[1] == height && label.shape[2] == width) return label.alias();
        using var f = label.unsqueeze(1).to(ScalarType.Float32);
        using var r = F.interpolate(f, size: new[] { height, width }, mode: InterpolationMode.Nearest);
        return r.squeeze(1).to(ScalarType.Int64);
    }

    /// <summary>B×K×H×W boolean masks <c>label == k</c> (ignored pixels belong to no class).</summary>
    public static Tensor ClassMasks(Tensor label, int numClasses)
    {
        using var classes = ScalarOps.Arange(numClasses, ScalarType.Int64, label.device).view(1, numClasses, 1, 1);
        return label.unsqueeze(1).eq(classes);
    }

    /// <summary>
    /// The Dice term of the official <c>SSALoss</c> (weight 1): for every image b and every class c present in its label,
    /// 1 − (2Σ σ(x)·t + 1)/(Σ σ(x) + Σ t + 1) with t = 1[y_b = c] (ignored pixels are negatives); summed over the
    /// (b, c) pairs and divided by their count (at least 1). Classes are matched by index (no Hungarian matching).
    /// </summary>
    /// <param name="logits">B×K×H×W logits already at label resolution.</param>
    /// <param name="label">B×H×W int64 labels.</param>
    public static Tensor Dice(Tensor logits, Tensor label)
    {
        using var scope = torch.NewDisposeScope();
        var k = (int)logits.shape[1];
        // Only the (image, class) pairs present in the label enter the loss, so only their channels are gathered: a
        // sigmoid and a mask over all K channels at label resolution cost K/(classes per image) times more (ADE: 150
        // channels, ~10 present) for terms that are multiplied by zero.
        var pairs = PresentClasses(label, k).nonzero();                                 // P,2 (image, class)
        var img = pairs.select(1, 0);
        var cls = pairs.select(1, 1);
        var p = logits.flatten(2).index(TensorIndex.Tensor(img), TensorIndex.Tensor(cls)).sigmoid(); // P,HW
        var t = label.flatten(1).index_select(0, img).eq(cls.unsqueeze(1)).to(logits.dtype);       // P,HW
        var numerator = (p * t).sum(-1).Times(2);
        var denominator = p.sum(-1).Plus(t.sum(-1));
        var perPair = (numerator.Plus(1) / denominator.Plus(1)).SubtractedFrom(1);      // P
        return perPair.sum().Over(Math.Max(1, pairs.shape[0])).MoveToOuterDisposeScope();
    }

    /// <summary>B×K booleans: class k occurs in image b's label (values outside [0, K), e.g. the ignore label, do not count).</summary>
    public static Tensor PresentClasses(Tensor label, int numClasses)
    {
        using var scope = torch.NewDisposeScope();
        var flat = label.flatten(1);
        var inRange = flat.GreaterThan(-1).logical_and(flat.LessThan(numClasses));
        var idx = torch.where(inRange, flat, torch.tensor((long)numClasses, device: label.device));
        var counts = torch.zeros(new[] { flat.shape[0], numClasses + 1L }, ScalarType.Int64, label.device)
            .scatter_add_(1, idx, torch.ones_like(idx));
        return counts.narrow(1, 0, numClasses).GreaterThan(0).MoveToOuterDisposeScope();
    }
}

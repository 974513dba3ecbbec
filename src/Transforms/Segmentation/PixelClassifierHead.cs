using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using MLNetExtensions.Transforms.Ssa;

namespace MLNetExtensions.Transforms.Segmentation;

/// <summary>
/// The plain pixel classifier that SSA replaces: mmseg's <c>cls_seg</c> (Dropout2d, then a 1×1 conv with bias,
/// i.e. inner products with K fixed class prototypes). Same interface as <see cref="SsaHead"/>, for comparisons.
/// Its loss is mmseg's default: cross-entropy on logits bilinearly upsampled to the label size (align_corners=False),
/// averaged over all pixels (<c>avg_non_ignore=False</c>).
/// </summary>
/// <remarks>State-dict keys: <c>conv_seg.weight</c>, <c>conv_seg.bias</c> (as mmseg's decode heads).</remarks>
public sealed class PixelClassifierHead : SegmentationHead
{
    private readonly Module<Tensor, Tensor> dropout;
    private readonly Conv2d conv_seg;

    /// <summary>Creates the classifier for C-channel features and K classes.</summary>
    public PixelClassifierHead(SsaHeadConfig config) : base(nameof(PixelClassifierHead), config.Channels, config.NumClasses)
    {
        if (config.DropoutRatio >= 1)
            throw new ArgumentOutOfRangeException(nameof(config), config.DropoutRatio, "DropoutRatio must be < 1.");
        dropout = config.DropoutRatio > 0 ? Dropout2d(config.DropoutRatio) : Identity();
        conv_seg = ClassifierConv(config.Channels, config.NumClasses);
        RegisterComponents();
    }

    /// <summary>Creates the classifier with the mmseg default dropout (0.1).</summary>
    public PixelClassifierHead(int channels, int numClasses) : this(new SsaHeadConfig(channels, numClasses)) { }

    /// <inheritdoc/>
    public override SegmentationHeadOutput Run(Tensor feature)
    {
        CheckFeature(feature);
        using var scope = torch.NewDisposeScope();
        var logits = conv_seg.call(dropout.call(feature));
        return new SegmentationHeadOutput(logits.MoveToOuterDisposeScope(), feature);
    }

    /// <summary>mmseg CE (mean over all pixels, 255 ignored) of the upsampled logits; one term named <c>loss_ce</c>.</summary>
    /// <param name="output">The output of <see cref="Run"/>.</param>
    /// <param name="label">Labels B×H×W or B×1×H×W.</param>
    /// <param name="edges">Unused (this head has no boundary term).</param>
    public override SegmentationLoss Loss(SegmentationHeadOutput output, Tensor label, Tensor? edges = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        using var scope = torch.NewDisposeScope();
        var y = PrepareLabel(label, output.Logits.shape[0]);
        var up = SegmentationLossFunctions.Resize(output.Logits, y.shape[1], y.shape[2], alignCorners: false);
        var ce = SegmentationLossFunctions.CrossEntropyAllPixels(up, y).MoveToOuterDisposeScope();
        return new SegmentationLoss(ce, new[] { new KeyValuePair<string, Tensor>("loss_ce", ce) });
    }
}

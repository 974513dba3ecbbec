using MLNetExtensions.Core.Torch;
using TorchSharp;
using static TorchSharp.torch;
using MLNetExtensions.Transforms.Ssa;

namespace MLNetExtensions.Transforms.Segmentation;

/// <summary>
/// A pixel-classification head on top of a decode-head feature map (B×C×h×w): <c>forward</c> gives class logits
/// (B×K×h×w) at feature resolution; <see cref="Run"/> also returns what the training loss needs; <see cref="Loss"/>
/// computes the total training loss against a label map (ignore index 255, as mmsegmentation).
/// </summary>
/// <remarks>
/// Heads interchange behind this class: <see cref="SsaHead"/> (the SSA classifier) and
/// <see cref="PixelClassifierHead"/> (the plain 1×1-conv classifier it replaces).
/// Tensors returned by <see cref="Run"/> and <see cref="Loss"/> belong to the caller's dispose scope.
/// </remarks>
public abstract class SegmentationHead : nn.Module<Tensor, Tensor>
{
    /// <summary>mmsegmentation's ignore label.</summary>
    public const int IgnoreIndex = 255;

    /// <summary>
    /// The 1×1 classifier <c>conv_seg</c>, initialised as mmseg's <c>BaseDecodeHead</c> does
    /// (<c>init_cfg=dict(type='Normal', std=0.01, override=dict(name='conv_seg'))</c>: weight ~ N(0, 0.01), bias 0),
    /// not with PyTorch's default (uniform ±1/√C), which starts the coarse mask far less uniform.
    /// </summary>
    protected static TorchSharp.Modules.Conv2d ClassifierConv(int channels, int numClasses)
    {
        var conv = nn.Conv2d(channels, numClasses, 1);
        using (torch.no_grad())
        {
            nn.init.normal_(conv.weight!, 0, 0.01);
            nn.init.zeros_(conv.bias!);
        }
        return conv;
    }

    /// <summary>Creates the head.</summary>
    protected SegmentationHead(string name, int channels, int numClasses) : base(name)
    {
        if (channels < 1) throw new ArgumentOutOfRangeException(nameof(channels), channels, "channels must be ≥ 1.");
        if (numClasses < 1 || numClasses > IgnoreIndex)
            throw new ArgumentOutOfRangeException(nameof(numClasses), numClasses, "numClasses must be in [1, 255] (255 is the ignore label).");
        Channels = channels;
        NumClasses = numClasses;
    }

    /// <summary>Feature channels C the head expects.</summary>
    public int Channels { get; }

    /// <summary>Number of classes K.</summary>
    public int NumClasses { get; }

    /// <summary>
    /// Runs the head in the current mode (dropout active only after <c>train()</c>) and returns the prediction
    /// (logits at feature resolution) together with the intermediate tensors the loss needs.
    /// </summary>
    public abstract SegmentationHeadOutput Run(Tensor feature);

    /// <summary>Class logits B×K×h×w at feature resolution (the official <c>forward_test</c> output).</summary>
    public override Tensor forward(Tensor feature)
    {
        // The intermediate outputs of Run are released here; only the logits leave.
        using var scope = torch.NewDisposeScope();
        return Run(feature).Logits.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Total training loss and its named terms for an output of <see cref="Run"/> and an integer label map
    /// (B×H×W or B×1×H×W; values in [0,K) or 255). Logits are upsampled to the label size inside.
    /// </summary>
    /// <param name="output">The output of <see cref="Run"/> on the same batch.</param>
    /// <param name="label">Ground-truth class indices (any integer dtype).</param>
    /// <param name="edges">Optional B×h×w boundary mask at feature resolution (used by heads with a boundary-aware
    /// term; computed from the label when null).</param>
    public abstract SegmentationLoss Loss(SegmentationHeadOutput output, Tensor label, Tensor? edges = null);

    /// <summary>Checks a feature map: 4-D, C channels, float.</summary>
    protected void CheckFeature(Tensor feature)
    {
        ArgumentNullException.ThrowIfNull(feature);
        if (feature.dim() != 4 || feature.shape[1] != Channels)
            throw new ArgumentException(
                $"Expected a feature map of shape (B, {Channels}, h, w); got ({string.Join(", ", feature.shape)}).", nameof(feature));
        if (!feature.is_floating_point())
            throw new ArgumentException($"Expected a floating-point feature map; got {feature.dtype}.", nameof(feature));
    }

    /// <summary>
    /// Validates a label map against the batch size and the class count and returns it as B×H×W int64.
    /// </summary>
    protected Tensor PrepareLabel(Tensor label, long batch)
    {
        ArgumentNullException.ThrowIfNull(label);
        if (label.is_floating_point() || label.dtype == ScalarType.Bool)
            throw new ArgumentException($"Expected an integer label map; got {label.dtype}.", nameof(label));
        var y = label.dim() switch
        {
            3 => label,
            4 when label.shape[1] == 1 => label.squeeze(1),
            _ => throw new ArgumentException(
                $"Expected a label map of shape (B, H, W) or (B, 1, H, W); got ({string.Join(", ", label.shape)}).", nameof(label)),
        };
        if (y.shape[0] != batch)
            throw new ArgumentException($"Label batch size {y.shape[0]} does not match the prediction batch size {batch}.", nameof(label));
        y = y.to(ScalarType.Int64);
        using (torch.no_grad())
        {
            using var bad = (y.LessThan(0) | (y.AtLeast(NumClasses) & y.NotEqualTo(IgnoreIndex))).any();
            if (bad.item<bool>())
                throw new ArgumentException(
                    $"Label values must be class indices in [0, {NumClasses}) or the ignore label {IgnoreIndex}.", nameof(label));
        }
        return y;
    }
}

/// <summary>What a <see cref="SegmentationHead"/> produces on one batch.</summary>
/// <param name="Logits">Prediction B×K×h×w at feature resolution.</param>
/// <param name="Feature">The input feature map (kept for heads whose loss re-uses it).</param>
public record SegmentationHeadOutput(Tensor Logits, Tensor Feature);

/// <summary>A training loss: the total to back-propagate and its named terms (as the official log keys).</summary>
/// <param name="Total">Scalar sum of all terms.</param>
/// <param name="Terms">Each term (scalar tensors, already weighted), in a stable order.</param>
public sealed record SegmentationLoss(Tensor Total, IReadOnlyList<KeyValuePair<string, Tensor>> Terms)
{
    /// <summary>The term with this name.</summary>
    public Tensor this[string name] =>
        Terms.FirstOrDefault(t => t.Key == name).Value ?? throw new KeyNotFoundException($"No loss term '{name}'.");
}

using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.GeminiFusion;

/// <summary>Outputs of <see cref="GeminiFusionNetwork"/> (logits at input/4).</summary>
/// <param name="Branches">Per-modality logits (B, K, H/4, W/4): the shared decoder on modality m's features.</param>
/// <param name="Ensemble">Σ_m softmax(α)_m · Branches[m].detach().</param>
public sealed record GeminiFusionOutput(Tensor[] Branches, Tensor Ensemble)
{
    /// <summary>The official output list: branch 0, branch 1, …, ensemble.</summary>
    public Tensor[] All => [.. Branches, Ensemble];
}

/// <summary>
/// GeminiFusion segmentation network (official JiaDingCN/GeminiFusion <c>models/segformer.py</c> <c>WeTr</c>, MiT
/// backbones): the fused multi-stream <see cref="GeminiMitEncoder"/>, one <see cref="SegFormerHead"/> shared by all
/// modalities, and the ensemble weights <c>alpha</c> (ones at start). Keys <c>encoder.*</c>, <c>decoder.*</c>,
/// <c>alpha</c>, as the official <c>segmenter</c> state dict (strip a DDP <c>module.</c> prefix first).
/// </summary>
/// <remarks>
/// <see cref="forward"/> returns the official list [logits of modality 0, …, logits of modality M−1, ensemble], each
/// (B, K, H/4, W/4). The ensemble is built from detached logits, so its loss reaches only <c>alpha</c>; the official
/// NYUDv2/SUN recipe never puts <c>alpha</c> in an optimiser group (a fixed average, see <see cref="ParameterGroups"/>),
/// the DeLiVER recipe trains it.
/// </remarks>
public sealed class GeminiFusionNetwork : nn.Module<IReadOnlyList<Tensor>, Tensor[]>
{
    /// <summary>The official decoder width of the NYUDv2/SUN models.</summary>
    public const int DefaultEmbeddingDim = 256;

    /// <summary>Label value ignored by the loss (official 255).</summary>
    public const long DefaultIgnoreIndex = 255;

    private readonly GeminiMitEncoder encoder;
    private readonly SegFormerHead decoder;
    private readonly Parameter alpha;

    /// <summary>
    /// Builds the network with the official from-scratch initialisation (the official code then loads ImageNet MiT
    /// weights into the shared layers and both LayerNorm copies). Draws from TorchSharp's global generator.
    /// </summary>
    /// <param name="backbone">MiT variant, e.g. <see cref="MitConfig.B3"/>.</param>
    /// <param name="numClasses">Classes K (NYUDv2 40, SUN RGB-D 37).</param>
    /// <param name="modalities">Number of modalities M ≥ 2 (official 2).</param>
    /// <param name="embeddingDim">Decoder width (official 256; DeLiVER 512 from B2 up).</param>
    public GeminiFusionNetwork(MitConfig backbone, int numClasses, int modalities = 2, int embeddingDim = DefaultEmbeddingDim)
        : base(nameof(GeminiFusionNetwork))
    {
        ArgumentNullException.ThrowIfNull(backbone);
        encoder = new GeminiMitEncoder(backbone, modalities);
        decoder = new SegFormerHead(backbone.EmbedDims, embeddingDim, numClasses);
        alpha = nn.Parameter(torch.ones(modalities));
        RegisterComponents();
    }

    /// <summary>Number of modalities.</summary>
    public int Modalities => encoder.Modalities;

    /// <summary>Number of classes.</summary>
    public int NumClasses => decoder.NumClasses;

    /// <summary>The fused encoder (key <c>encoder</c>).</summary>
    public GeminiMitEncoder Encoder => encoder;

    /// <summary>The shared decoder (key <c>decoder</c>).</summary>
    public SegFormerHead Decoder => decoder;

    /// <summary>Ensemble logits α (key <c>alpha</c>); the ensemble weights are softmax(α).</summary>
    public Parameter Alpha => alpha;

    /// <summary>
    /// Keep every BatchNorm in eval mode when <c>train()</c> is called (official <c>--freeze-bn</c>, default true in the
    /// NYUDv2/SUN recipe: the decoder BN then keeps its running statistics and acts as a learned affine).
    /// </summary>
    public bool FreezeBatchNorm { get; set; } = true;

    /// <inheritdoc/>
    public override void train(bool on = true)
    {
        base.train(on);
        if (!on || !FreezeBatchNorm) return;
        foreach (var m in modules())
            if (m is BatchNorm bn) bn.eval();
    }

    /// <summary>The official output list [branch 0, …, branch M−1, ensemble], each (B, K, H/4, W/4).</summary>
    public override Tensor[] forward(IReadOnlyList<Tensor> images) => Run(images).All;

    /// <summary>Runs the network and returns the branch logits and the ensemble separately.</summary>
    public GeminiFusionOutput Run(IReadOnlyList<Tensor> images)
    {
        using var scope = torch.NewDisposeScope();
        var features = encoder.call(images);
        var branches = features.Select(f => decoder.call(f)).ToArray();
        var weights = alpha.softmax(0);
        Tensor ensemble = weights[0] * branches[0].detach();
        for (int m = 1; m < branches.Length; m++) ensemble = ensemble.Plus(weights[m] * branches[m].detach());
        foreach (var b in branches) b.MoveToOuterDisposeScope();
        return new GeminiFusionOutput(branches, ensemble.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The official training loss: Σ over the outputs of NLL(log-softmax over classes of the logits bilinearly resized
    /// (align_corners=False) to the label size), mean over non-ignored pixels. <paramref name="target"/> is (B, H, W) int64.
    /// </summary>
    public static Tensor Loss(IReadOnlyList<Tensor> outputs, Tensor target, long ignoreIndex = DefaultIgnoreIndex)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        ArgumentNullException.ThrowIfNull(target);
        if (outputs.Count == 0) throw new ArgumentException("No outputs.", nameof(outputs));
        if (target.dim() != 3) throw new ArgumentException($"Labels must be (B, H, W); got [{string.Join(", ", target.shape)}].", nameof(target));
        using var scope = torch.NewDisposeScope();
        var size = new[] { target.shape[1], target.shape[2] };
        var labels = target.to(int64);
        Tensor? total = null;
        foreach (var o in outputs)
        {
            var up = nn.functional.interpolate(o, size: size, mode: InterpolationMode.Bilinear, align_corners: false);
            // cross_entropy is LibTorch's nll_loss(log_softmax(·, 1)), the official NLLLoss(LogSoftmax()(·)).
            var l = nn.functional.cross_entropy(up, labels, ignore_index: ignoreIndex, reduction: nn.Reduction.Mean);
            total = total is null ? l : total.Plus(l);
        }
        return total!.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The official optimiser groups (<c>WeTr.get_param_groups</c>): encoder parameters whose name lacks "norm"
    /// (base lr), encoder LayerNorm parameters (no weight decay), decoder parameters (10× lr). <c>alpha</c> is in none.
    /// </summary>
    public (IReadOnlyList<Parameter> Encoder, IReadOnlyList<Parameter> EncoderNorms, IReadOnlyList<Parameter> Decoder) ParameterGroups()
    {
        var enc = new List<Parameter>();
        var norms = new List<Parameter>();
        foreach (var (name, p) in encoder.named_parameters())
            (name.Contains("norm", StringComparison.Ordinal) ? norms : enc).Add(p);
        return (enc, norms, decoder.parameters().ToList());
    }
}

using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using MLNetExtensions.Transforms.Segmentation;

namespace MLNetExtensions.Transforms.Ssa;

/// <summary>
/// SSA — the Semantic and Spatial Adaptive pixel-level classifier (Ma, Ni, Chen, NeurIPS 2024; official code
/// xwmaxwma/SSA, <c>*_head_ssa.py</c>). It replaces a decode head's final 1×1 classifier: the fixed class prototypes
/// (<c>conv_seg</c>) only give a coarse mask, which adapts the prototypes per image in the semantic domain (SEPA:
/// towards this image's class feature centres) and the spatial domain (SPPA: pooled learned position features); the
/// prediction is 15·cos(prototype, feature + position feature). In training a ground-truth-guided teacher
/// (<c>gt_*</c> modules) distils into the student; <see cref="Loss"/> returns the official eight-term loss.
/// </summary>
/// <remarks>
/// State-dict keys equal the official head's SSA keys (without mmseg's <c>decode_head.</c> prefix):
/// <c>conv_seg</c>, <c>get_feat_pos</c>, <c>center_pos</c>, <c>center_content_proj</c>, <c>gt_center_content_proj</c>,
/// <c>center_pos_proj</c>, <c>gt_center_pos_proj</c>, <c>center_proj</c>, <c>gt_center_proj</c>.
/// </remarks>
public sealed class SsaHead : SegmentationHead
{
    /// <summary>Fixed cosine scale of the SSA logits (temperature 1/15), hard-coded in the official head.</summary>
    public const double LogitScale = 15.0;

    private const double Eps = 1e-12;

    // Field order follows the official call order; names are the official state-dict keys.
    private readonly Module<Tensor, Tensor> dropout;
    private readonly Conv2d conv_seg;
    private readonly Conv2d get_feat_pos;
    private readonly Embedding center_pos;
    private readonly Sequential center_content_proj;
    private readonly Sequential gt_center_content_proj;
    private readonly Sequential center_pos_proj;
    private readonly Sequential gt_center_pos_proj;
    private readonly Linear center_proj;
    private readonly Linear gt_center_proj;
    private readonly SsaLoss ssa_loss;

    /// <summary>Creates an SSA head for C-channel features and K classes.</summary>
    public SsaHead(SsaHeadConfig config) : base(nameof(SsaHead), config.Channels, config.NumClasses)
    {
        if (config.Channels < 2)
            throw new ArgumentOutOfRangeException(nameof(config), config.Channels, "SSA needs at least 2 channels (its MLPs have C/2 hidden units).");
        if (config.DropoutRatio >= 1)
            throw new ArgumentOutOfRangeException(nameof(config), config.DropoutRatio, "DropoutRatio must be < 1.");
        Config = config;
        int c = config.Channels, k = config.NumClasses;
        dropout = config.DropoutRatio > 0 ? Dropout2d(config.DropoutRatio) : Identity();
        conv_seg = ClassifierConv(c, k);
        get_feat_pos = Conv2d(c, c, 3, stride: 1, padding: 1, groups: c, bias: true);
        center_pos = Embedding(k, c);
        center_content_proj = Mlp(c);
        gt_center_content_proj = Mlp(c);
        center_pos_proj = Mlp(c);
        gt_center_pos_proj = Mlp(c);
        center_proj = Linear(c, c, hasBias: false);
        gt_center_proj = Linear(c, c, hasBias: false);
        ssa_loss = new SsaLoss(k);
        RegisterComponents();
    }

    /// <summary>Creates an SSA head for C-channel features and K classes with the mmseg defaults.</summary>
    public SsaHead(int channels, int numClasses) : this(new SsaHeadConfig(channels, numClasses)) { }

    /// <summary>The configuration.</summary>
    public SsaHeadConfig Config { get; }

    // Linear(2C→C/2, no bias) → ReLU → Linear(C/2→C): keys 0.weight, 2.weight, 2.bias.
    private static Sequential Mlp(int c) => Sequential(Linear(2 * c, c / 2, hasBias: false), ReLU(), Linear(c / 2, c));

    /// <summary>Fixed class prototypes W (K×C): the 1×1 classifier weight. Reshaped rather than squeezed so K=1 works
    /// (the official <c>.squeeze()</c> breaks for K=1).</summary>
    private Tensor Prototypes => conv_seg.weight!.reshape(NumClasses, Channels);

    /// <inheritdoc/>
    public override SegmentationHeadOutput Run(Tensor feature) => RunSsa(feature);

    /// <summary>The student path (official <c>forward_test</c> / first half of <c>forward_train</c>).</summary>
    public SsaHeadOutput RunSsa(Tensor feature)
    {
        CheckFeature(feature);
        using var scope = torch.NewDisposeScope();
        // Dropout only feeds the coarse classifier; centres and queries use the un-dropped feature.
        var coarse = conv_seg.call(dropout.call(feature));
        var featPos = get_feat_pos.call(feature);
        var centerPos = CenterPos(coarse, featPos);
        var (logits, predProto) = PredSsa(feature, coarse, featPos, centerPos);
        return new SsaHeadOutput(
            logits.MoveToOuterDisposeScope(), feature, coarse.MoveToOuterDisposeScope(), featPos.MoveToOuterDisposeScope(),
            centerPos.MoveToOuterDisposeScope(), predProto.MoveToOuterDisposeScope());
    }

    // SPPA: pixel-softmax attention of each class over positions pools the position features; MLP([E_k ‖ p_k]).
    private Tensor CenterPos(Tensor coarse, Tensor featPos)
    {
        long b = coarse.shape[0];
        var attn = coarse.reshape(b, NumClasses, -1).softmax(-1);                       // B,K,N
        var fp = featPos.reshape(b, Channels, -1).permute(0, 2, 1);                     // B,N,C
        var e = center_pos.weight!.unsqueeze(0).expand(b, -1, -1);                      // B,K,C
        return center_pos_proj.call(torch.cat(new[] { e, torch.matmul(attn, fp) }, -1));
    }

    // SEPA: class-softmax-weighted feature centres, MLP([c_k ‖ W_k]); logits = 15·cos(W_cp(S+P), F+Pf).
    private (Tensor Logits, Tensor PredProto) PredSsa(Tensor feature, Tensor coarse, Tensor featPos, Tensor centerPos)
    {
        long b = feature.shape[0];
        var p = coarse.reshape(b, NumClasses, -1).softmax(1);                           // B,K,N
        var x = feature.reshape(b, Channels, -1).permute(0, 2, 1);                      // B,N,C
        var centres = torch.matmul(p, x) / p.sum(-1).unsqueeze(-1).Plus(Eps);            // B,K,C
        var w = Prototypes.unsqueeze(0).expand(b, -1, -1);                              // not detached: W also learns here
        var predProto = center_content_proj.call(torch.cat(new[] { centres, w }, -1));
        var center = center_proj.call(predProto.Plus(centerPos));
        return (CosineLogits(feature.Plus(featPos), center), predProto);
    }

    /// <summary>15 · ⟨nrm(proto_k), nrm(x_n)⟩ for x: B×C×h×w and proto: B×K×C (official <c>get_pred</c>).</summary>
    internal static Tensor CosineLogits(Tensor x, Tensor proto)
    {
        using var scope = torch.NewDisposeScope();
        long b = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
        var xn = x / x.VectorNorm(2, 1, true).Plus(Eps);
        var pn = proto / proto.VectorNorm(2, -1, true).Plus(Eps);
        var pred = torch.matmul(pn, xn.reshape(b, c, h * w));
        return pred.reshape(b, proto.shape[1], h, w).Times(LogitScale).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The ground-truth-guided teacher (official <c>gt_ssa</c>, training only). Semantic centres are means of F over each
    /// class's pixels pooled over the whole batch (absent classes keep the detached W_k); spatial centres are per-image
    /// means of the position features (absent classes keep the detached embedding E_k).
    /// </summary>
    /// <param name="output">Student output of <see cref="RunSsa"/> on the batch.</param>
    /// <param name="label">Label map B×H×W or B×1×H×W at any resolution; it is nearest-resized to feature resolution.</param>
    public SsaTeacherOutput Teacher(SsaHeadOutput output, Tensor label)
    {
        ArgumentNullException.ThrowIfNull(output);
        var f = output.Feature;
        using var scope = torch.NewDisposeScope();
        var y = PrepareLabel(label, f.shape[0]);
        var yFeat = SegmentationLossFunctions.NearestLabel(y, f.shape[2], f.shape[3]);
        var t = TeacherCore(f, output.FeaturePos, yFeat);
        return new SsaTeacherOutput(t.Logits.MoveToOuterDisposeScope(), t.GtProto.MoveToOuterDisposeScope(), t.GtCenterPos.MoveToOuterDisposeScope());
    }

    private SsaTeacherOutput TeacherCore(Tensor feature, Tensor featPos, Tensor yFeat)
    {
        long b = feature.shape[0];
        int k = NumClasses, c = Channels;
        var mask = SegmentationLossFunctions.ClassMasks(yFeat, k).flatten(2).to(feature.dtype);  // B,K,N
        var x = feature.reshape(b, c, -1).permute(0, 2, 1);                                     // B,N,C
        var pf = featPos.reshape(b, c, -1).permute(0, 2, 1);

        // Semantic teacher centres: batch-pooled, so one set shared by every image.
        var w = Prototypes;
        var counts = mask.sum(new long[] { 0, 2 }).unsqueeze(-1);                                // K,1
        var centres = torch.matmul(mask, x).sum(new long[] { 0 }) / counts.Plus(Eps);                          // K,C
        var semantic = torch.where(counts.GreaterThan(0), centres, w.detach());
        var gtProto = gt_center_content_proj.call(torch.cat(new[] { semantic, w }, -1)).unsqueeze(0).expand(b, -1, -1);

        // Spatial teacher centres: per image.
        var e = center_pos.weight!;
        var countsPos = mask.sum(2).unsqueeze(-1);                                               // B,K,1
        var centresPos = torch.matmul(mask, pf) / countsPos.Plus(Eps);                             // B,K,C
        var spatial = torch.where(countsPos.GreaterThan(0), centresPos, e.detach().unsqueeze(0).expand(b, -1, -1));
        var gtCenterPos = gt_center_pos_proj.call(torch.cat(new[] { spatial, e.unsqueeze(0).expand(b, -1, -1) }, -1));

        var center = gt_center_proj.call(gtProto.Plus(gtCenterPos));
        return new SsaTeacherOutput(CosineLogits(feature.Plus(featPos), center), gtProto, gtCenterPos);
    }

    /// <summary>
    /// The official SSA training loss (summed into mmseg's <c>loss_ce</c>): MainLoss (mmseg CE, mean over all pixels)
    /// + PreSelfLoss (CE of the coarse mask) + PreLoss (CE of the teacher) + KLLoss (response KD) + dice_pred + dice_gt
    /// + disLoss (×10) + pos_disLoss (×0.4). Logits are bilinearly upsampled to the label size with align_corners=True
    /// (inference uses False).
    /// </summary>
    /// <param name="output">An <see cref="SsaHeadOutput"/> from <see cref="Run"/>.</param>
    /// <param name="label">Labels B×H×W or B×1×H×W (255 = ignore).</param>
    /// <param name="edges">Optional B×h×w boundary mask at feature resolution; when null it is computed like the
    /// official <c>get_bd</c> (see <see cref="LabelEdges"/>) with <see cref="SsaHeadConfig.EdgeBorder"/>.</param>
    public override SegmentationLoss Loss(SegmentationHeadOutput output, Tensor label, Tensor? edges = null)
    {
        if (output is not SsaHeadOutput o)
            throw new ArgumentException($"Expected the {nameof(SsaHeadOutput)} returned by {nameof(SsaHead)}.{nameof(Run)}.", nameof(output));
        using var scope = torch.NewDisposeScope();
        long b = o.Logits.shape[0], h = o.Logits.shape[2], w = o.Logits.shape[3];
        var y = PrepareLabel(label, b);
        long hy = y.shape[1], wy = y.shape[2];
        var yFeat = SegmentationLossFunctions.NearestLabel(y, h, w);
        if (edges is not null && (edges.dim() != 3 || edges.shape[0] != b || edges.shape[1] != h || edges.shape[2] != w))
            throw new ArgumentException($"Expected an edge mask of shape ({b}, {h}, {w}) at feature resolution; got ({string.Join(", ", edges.shape)}).", nameof(edges));
        var edgeMask = edges ?? LabelEdges.Compute(yFeat, Config.EdgeBorder);

        var teacher = TeacherCore(o.Feature, o.FeaturePos, yFeat);
        var kl = SsaDistillation.Response(o.Logits, teacher.Logits.detach(), yFeat, edgeMask);

        var coarseUp = SegmentationLossFunctions.Resize(o.CoarseLogits, hy, wy, alignCorners: true);
        var preSelf = SegmentationLossFunctions.CrossEntropyNonIgnored(coarseUp, y);
        var teacherUp = SegmentationLossFunctions.Resize(teacher.Logits, hy, wy, alignCorners: true);
        var pre = SegmentationLossFunctions.CrossEntropyNonIgnored(teacherUp, y);
        var logitsUp = SegmentationLossFunctions.Resize(o.Logits, hy, wy, alignCorners: true);
        var dicePred = SegmentationLossFunctions.Dice(logitsUp, y);
        var diceGt = SegmentationLossFunctions.Dice(teacherUp, y);
        var dis = SsaDistillation.Relation(o.PredProto, teacher.GtProto.detach());
        var posDis = SsaDistillation.Position(o.CenterPos, teacher.GtCenterPos.detach());
        var main = SegmentationLossFunctions.CrossEntropyAllPixels(logitsUp, y);

        var terms = new (string, Tensor)[]
        {
            ("MainLoss", main), ("PreSelfLoss", preSelf), ("PreLoss", pre), ("KLLoss", kl),
            ("dice_pred", dicePred), ("dice_gt", diceGt), ("disLoss", dis), ("pos_disLoss", posDis),
        };
        var total = terms.Select(t => t.Item2).Aggregate((a, t) => a.Plus(t));
        var kept = terms.Select(t => new KeyValuePair<string, Tensor>(t.Item1, t.Item2.MoveToOuterDisposeScope())).ToList();
        return new SegmentationLoss(total.MoveToOuterDisposeScope(), kept);
    }
}

/// <summary>Student outputs of <see cref="SsaHead"/> (all at feature resolution).</summary>
/// <param name="Logits">SSA prediction B×K×h×w (15·cosine, in [−15, 15]).</param>
/// <param name="Feature">Input feature F (B×C×h×w).</param>
/// <param name="CoarseLogits">Coarse mask from the fixed prototypes, <c>conv_seg(dropout(F))</c> (B×K×h×w).</param>
/// <param name="FeaturePos">Position features <c>get_feat_pos(F)</c> (B×C×h×w).</param>
/// <param name="CenterPos">Spatial prototypes P (B×K×C).</param>
/// <param name="PredProto">Semantic prototypes S (B×K×C).</param>
public sealed record SsaHeadOutput(Tensor Logits, Tensor Feature, Tensor CoarseLogits, Tensor FeaturePos, Tensor CenterPos, Tensor PredProto)
    : SegmentationHeadOutput(Logits, Feature);

/// <summary>Outputs of the ground-truth-guided teacher.</summary>
/// <param name="Logits">Teacher logits B×K×h×w.</param>
/// <param name="GtProto">Teacher semantic prototypes Sᵗ (B×K×C, identical across the batch).</param>
/// <param name="GtCenterPos">Teacher spatial prototypes Pᵗ (B×K×C).</param>
public sealed record SsaTeacherOutput(Tensor Logits, Tensor GtProto, Tensor GtCenterPos);

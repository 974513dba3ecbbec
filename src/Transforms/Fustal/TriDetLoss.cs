using MLNetExtensions.Core.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Fustal;

/// <summary>
/// The student's loss (note fustal.md §5.1): sigmoid focal loss (α 0.25, γ 2) summed over valid positions × classes,
/// positive-class terms multiplied by <c>(1 − DIoU loss)^0.2</c> (TriDet's IoU coupling, clamped at 0 and detached
/// here); the centre DIoU loss on positives; both divided by an EMA of the positive count (momentum 0.9, initial 100);
/// plus FuSTAL's MIL term: BCE of the video scores against <c>y/‖y‖₁</c>.
/// </summary>
public sealed class TriDetLoss
{
    // Rooted for the process lifetime: TorchSharp 0.107 passes temporary Scalars unrooted.
    private static readonly Scalar One = 1.0.ToScalar(), Half = 0.5.ToScalar(), Eps = 1e-6.ToScalar(), Zero = 0.0.ToScalar(), ZeroIndex = 0L;
    private static readonly Scalar Alpha = 0.25.ToScalar(), OneMinusAlphaTimesTwoMinus = (1 - 2 * 0.25).ToScalar(), FocalGamma = 2.0.ToScalar(), IoUPower = 0.2.ToScalar();
    private static readonly Scalar Two = 2.0.ToScalar(), ThreeQuarters = 0.75.ToScalar();

    /// <summary>EMA of the number of positives (initial 100, as the official loss_normalizer).</summary>
    public double Normalizer { get; set; } = 100;
    /// <summary>Normalizer momentum. Default 0.9.</summary>
    public double Momentum { get; init; } = 0.9;
    /// <summary>Weight of the MIL term (0 = off). Default 1.</summary>
    public double MilWeight { get; init; } = 1;

    /// <summary>DIoU loss of offset pairs (N, 2) in stride units (ActionFormer <c>ctr_diou_loss_1d</c>, no reduction).</summary>
    public static Tensor CentreDIoU(Tensor pred, Tensor target)
    {
        using var scope = NewDisposeScope();
        var lp = pred.select(1, 0); var rp = pred.select(1, 1); var lg = target.select(1, 0); var rg = target.select(1, 1);
        var inter = torch.minimum(lp, lg).Plus(torch.minimum(rp, rg));
        var union = lp.Plus(rp).Plus(lg).Plus(rg) - inter;
        var iou = inter / union.clamp_min(Eps);
        var lenC = torch.maximum(lp, lg).Plus(torch.maximum(rp, rg));
        var rho = (rp - lp - rg).Plus(lg).mul(Half);
        var lenCc = lenC.clamp_min(Eps);
        var loss = iou.neg().add_(One, One).Plus(rho * rho / (lenCc * lenCc));
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>Sigmoid focal loss, element-wise (torchvision <c>sigmoid_focal_loss</c>, α 0.25, γ 2).</summary>
    public static Tensor Focal(Tensor logits, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var p = logits.sigmoid();
        var ce = nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction: nn.Reduction.None);
        // p_t = p·t + (1 − p)(1 − t) = 1 − p − t + 2pt; α_t = α·t + (1 − α)(1 − t) = (1 − α) − (1 − 2α)·t
        var pt = (p * targets).mul(Two).sub_(p).sub_(targets).add_(One, One);
        var alphaT = targets.mul(OneMinusAlphaTimesTwoMinus).neg().add_(ThreeQuarters, One);
        var loss = ce * pt.neg().add_(One, One).pow(FocalGamma) * alphaT;
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Total loss and its terms for a batch: network outputs of <see cref="TriDetStudent"/>, targets (B·P·C classes,
    /// B·P·2 offsets, B·P assigned class or −1, see <see cref="TriDetTargets"/>) and the video labels (B, C) for the MIL term
    /// (null = no MIL).
    /// </summary>
    public (Tensor Total, Tensor Classification, Tensor Regression, Tensor Mil) Compute(IReadOnlyDictionary<string, Tensor> outputs,
        Tensor classTargets, Tensor offsetTargets, Tensor assigned, Tensor? videoLabels)
    {
        using var scope = NewDisposeScope();
        var logits = outputs[TriDetStudent.LogitsSlot];
        var valid = outputs[TriDetStudent.ValidSlot].to_type(ScalarType.Bool);
        var pos = assigned.ge(ZeroIndex).logical_and(valid);
        long numPos = pos.sum().item<long>();
        Normalizer = Momentum * Normalizer + (1 - Momentum) * Math.Max(numPos, 1);

        var focal = Focal(logits, classTargets);                                   // (B, P, C)
        Tensor reg;
        var weight = torch.ones_like(focal);
        if (numPos > 0)
        {
            var cls = assigned.clamp_min(ZeroIndex).unsqueeze(2);                      // (B, P, 1)
            var dl = outputs[TriDetStudent.LeftSlot].gather(2, cls).squeeze(2);
            var dr = outputs[TriDetStudent.RightSlot].gather(2, cls).squeeze(2);
            var pred = torch.stack(new[] { dl, dr }, 2)[pos];                     // (N, 2)
            var diou = CentreDIoU(pred, offsetTargets[pos]);
            reg = diou.sum().Over(Normalizer);
            var rate = diou.detach().neg().add_(One, One).clamp_min(Zero).pow(IoUPower); // (N)
            var posTargets = classTargets[pos];                                   // (N, C)
            var w = torch.where(posTargets.gt(Zero), rate.unsqueeze(1).expand_as(posTargets), torch.ones_like(posTargets));
            weight = weight.index_put_(w, pos);
        }
        else reg = torch.zeros(1, device: logits.device).sum();
        var clsLoss = (focal * weight)[valid].sum().Over(Normalizer);
        Tensor mil = torch.zeros(1, device: logits.device).sum();
        if (videoLabels is not null && MilWeight > 0)
        {
            var sums = videoLabels.sum(1, keepdim: true).clamp_min(Eps);
            mil = nn.functional.binary_cross_entropy(outputs[TriDetStudent.VideoScoresSlot], videoLabels / sums).Times(MilWeight);
        }
        var total = clsLoss.Plus(reg).Plus(mil);
        return (total.MoveToOuterDisposeScope(), clsLoss.MoveToOuterDisposeScope(), reg.MoveToOuterDisposeScope(), mil.MoveToOuterDisposeScope());
    }
}

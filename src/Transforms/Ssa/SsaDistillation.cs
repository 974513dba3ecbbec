using MLNetExtensions.Core.Torch;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using MLNetExtensions.Transforms.Segmentation;

namespace MLNetExtensions.Transforms.Ssa;

/// <summary>
/// The three distillation terms SSA uses to pass knowledge from its ground-truth-guided teacher to the student
/// (official <c>get_distill_loss</c>, <c>get_dis_loss</c>, <c>get_pos_dis_loss</c>), vectorised over classes.
/// </summary>
public static class SsaDistillation
{
    /// <summary>Official weight of the semantic (relation) term.</summary>
    public const double RelationWeight = 10.0;

    /// <summary>Official weight of the spatial (position) term.</summary>
    public const double PositionWeight = 0.4;

    /// <summary>Official mix between teacher softmax and one-hot label in the response target.</summary>
    public const double Smoothness = 0.5;

    /// <summary>Official cosine scale (temperature 1/15) used by the relation matrix.</summary>
    public const double RelationScale = 15.0;

    /// <summary>
    /// Boundary-aware, entropy-weighted response distillation at feature resolution (<c>get_distill_loss</c>).
    /// Target t = ½·softmax(teacher) + ½·onehot(y) (ignored pixels: one-hot class 0, weight 0); per-pixel
    /// ℓ = −Σ t·log softmax(student); weight ω = entropy(softmax(teacher))·valid. For each class c in the batch,
    /// L_c = ½[Σ_{edge∩c} ωℓ/(Σ_{edge∩c} ω + 1e-12) + Σ_{¬edge∩c} ωℓ/(Σ_{¬edge∩c} ω + 1e-12)]; the loss is the
    /// mean of L_c (0 when no class is present).
    /// </summary>
    /// <param name="student">Student logits B×K×h×w.</param>
    /// <param name="teacher">Teacher logits B×K×h×w (detached here).</param>
    /// <param name="label">B×h×w int64 label at the same resolution (255 = ignore).</param>
    /// <param name="edges">B×h×w boundary mask (1 on edges).</param>
    public static Tensor Response(Tensor student, Tensor teacher, Tensor label, Tensor edges)
    {
        using var scope = torch.NewDisposeScope();
        var k = (int)student.shape[1];
        var soft = teacher.detach();
        var valid = label.NotEqualTo(SegmentationHead.IgnoreIndex);
        var target = label.MaskedFill(valid.logical_not(), 0);
        var onehot = F.one_hot(target, k).permute(0, 3, 1, 2).to(student.dtype);            // B,K,h,w
        var smSoft = soft.softmax(1);
        var smoothed = smSoft.Times(Smoothness).Plus(onehot.Times(1 - Smoothness));
        var loss = (-student.log_softmax(1) * smoothed).sum(1);                               // B,h,w
        var entropy = -(smSoft * smSoft.Plus(1e-12).log()).sum(1) * valid.to(student.dtype);  // B,h,w

        // Only the classes present in the batch carry weight, so the per-class masks are built for those alone
        // (ADE: a few of 150); an absent class's terms are 0/(0+1e-12) = 0 and it is not counted.
        var present = SegmentationLossFunctions.PresentClasses(label.reshape(1, -1), k).squeeze(0).nonzero().squeeze(1); // P
        var classMask = label.unsqueeze(1).eq(present.view(1, -1, 1, 1)).to(student.dtype);   // B,P,h,w
        var e = edges.to(student.dtype).unsqueeze(1);
        var wEdge = entropy.unsqueeze(1) * classMask * e;
        var wInner = entropy.unsqueeze(1) * classMask * e.SubtractedFrom(1);
        var l = loss.unsqueeze(1);
        long[] dims = { 0, 2, 3 };
        var edgeTerm = (l * wEdge).sum(dims) / wEdge.sum(dims).Plus(1e-12);                     // P
        var innerTerm = (l * wInner).sum(dims) / wInner.sum(dims).Plus(1e-12);
        var perClass = edgeTerm.Plus(innerTerm).Over(2.0);
        // Official: sum(loss_list) / (sum(weight_list) + 1e-12) with unit class weights; zero when no class.
        var result = perClass.sum().Over(present.shape[0] + 1e-12);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Semantic-domain distillation (<c>get_dis_loss</c>): for S (student) and Sᵗ (teacher, detached) compute
    /// R = softmax_row(15·Ŝ·Ŝᵀ) with the right factor detached; the loss is weight·mean_{b,k} Σ_{j≠k} max(0, R_s − R_t).
    /// </summary>
    public static Tensor Relation(Tensor predProto, Tensor gtProto, double weight = RelationWeight)
    {
        using var scope = torch.NewDisposeScope();
        var rs = RelationMatrix(predProto);
        var rt = RelationMatrix(gtProto.detach());
        var k = predProto.shape[1];
        var offDiag = torch.eye(k, dtype: predProto.dtype, device: predProto.device).unsqueeze(0).SubtractedFrom(1);
        var diff = rs * offDiag - rt * offDiag;
        var positive = torch.where(diff.GreaterThan(0), diff, torch.zeros_like(diff));
        return positive.sum(-1).mean().Times(weight).MoveToOuterDisposeScope();
    }

    /// <summary>Row-softmax of scaled cosine similarities between class prototypes (B×K×C → B×K×K).</summary>
    public static Tensor RelationMatrix(Tensor proto)
    {
        using var scope = torch.NewDisposeScope();
        var n = proto / proto.VectorNorm(2, -1, true).Plus(1e-12);
        var attention = torch.matmul(n, n.permute(0, 2, 1).detach()).Times(RelationScale);
        return attention.softmax(-1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Spatial-domain distillation (<c>get_pos_dis_loss</c>): weight·mean_{b,k} Σ_c −softmax_c(Pᵗ)·log_softmax_c(P),
    /// softmax over the channel axis with temperature 1; Pᵗ detached.
    /// </summary>
    public static Tensor Position(Tensor centerPos, Tensor gtCenterPos, double weight = PositionWeight)
    {
        using var scope = torch.NewDisposeScope();
        var target = gtCenterPos.detach().softmax(-1);
        var loss = (-centerPos.log_softmax(-1) * target).sum(-1).mean();
        return loss.Times(weight).MoveToOuterDisposeScope();
    }
}

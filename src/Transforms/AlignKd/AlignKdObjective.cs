using MLNetExtensions.Core.Torch;
using MLNetExtensions.Transforms.Language;
using MLNetExtensions.Transforms.VisionLanguage;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.AlignKd;

/// <summary>The teacher's constants for a batch (note §2.5: computed under no-grad, or precomputed once).</summary>
/// <param name="Logits">(B, L, V).</param>
/// <param name="VisionTokens">Z^T (B, N, D_T).</param>
/// <param name="Attention">Layer-0 A^T (B, H_T, L, L).</param>
public sealed record TeacherOutputs(Tensor Logits, Tensor VisionTokens, Tensor Attention);

/// <summary>
/// L = L_sup + w_kd·L_kd + w_V·L_V + w_att·L_att for one batch, from the student's <see cref="VlmOutput"/> and the
/// teacher's constants. The index sets V and Tx come from each row's real splice index and its padding mask.
/// </summary>
public static class AlignKdObjective
{
    /// <summary>
    /// The terms: "total", "sup", "kd", "vision", "attention" (a term whose weight is 0 is not computed and absent).
    /// <paramref name="targets"/> (B, L) are the spliced target ids and <paramref name="lossMask"/> (B, L) marks the
    /// supervised tokens (answer and EOS), both in spliced coordinates.
    /// </summary>
    public static Dictionary<string, Tensor> Compute(VlmOutput student, TeacherOutputs teacher, Tensor targets, Tensor lossMask,
        AlignKdAdapters adapters)
    {
        var o = adapters.Options;
        var terms = new Dictionary<string, Tensor>();
        using (var scope = NewDisposeScope())
        {
            var sup = TokenLogProbs.NextTokenLoss(student.Logits, targets, lossMask);
            var total = sup;
            terms["sup"] = sup.detach().MoveToOuterDisposeScope();
            if (o.KdWeight > 0)
            {
                var positions = o.KdPositions == KdPositions.AllPositions
                    ? student.Mask
                    : ResponsePositions(lossMask);
                var kd = AlignKdLosses.Kd(student.Logits, teacher.Logits, positions, o.KdDivergence, o.KdTemperature);
                total = total.Plus(kd.Times(o.KdWeight));
                terms["kd"] = kd.detach().MoveToOuterDisposeScope();
            }
            var text = AlignKdLosses.TextMask(student.VisionStart, student.VisionCount, student.Mask);
            var vision = AlignKdLosses.VisionMask(student.VisionStart, student.VisionCount, student.Mask.shape[1], student.Mask.device);
            if (o.AttentionWeight > 0)
            {
                if (student.Attention is null) throw new ArgumentException("AlignKd: the student forward must return its layer-0 attention.");
                var (s, t) = adapters.MatchHeads(student.Attention, teacher.Attention);
                var (rows, cols) = o.AttentionBlock == AttentionBlock.TextQueryVisionKey ? (text, vision) : (vision, text);
                var att = AlignKdLosses.Attention(s, t, rows, cols, o.AttentionReduction);
                total = total.Plus(att.Times(o.AttentionWeight));
                terms["attention"] = att.detach().MoveToOuterDisposeScope();
            }
            if (o.VisionWeight > 0)
            {
                Tensor? focus = null;
                if (o.FocusTopK > 0)
                {
                    var focusRows = o.FocusRows == FocusRows.TextRows ? text : student.Mask.to_type(ScalarType.Float32);
                    focus = AlignKdLosses.FocusIndices(teacher.Attention, focusRows, student.VisionStart, student.VisionCount, o.FocusTopK);
                }
                var (pred, target) = adapters.MatchTokens(student.VisionTokens, teacher.VisionTokens);
                var lv = AlignKdLosses.Projection(pred, target, focus);
                total = total.Plus(lv.Times(o.VisionWeight));
                terms["vision"] = lv.detach().MoveToOuterDisposeScope();
            }
            terms["total"] = total.MoveToOuterDisposeScope();
        }
        return terms;
    }

    /// <summary>Positions whose next token is supervised: lossMask shifted left by one.</summary>
    public static Tensor ResponsePositions(Tensor lossMask)
    {
        long l = lossMask.shape[1];
        using var scope = NewDisposeScope();
        var shifted = cat(new[] { lossMask.narrow(1, 1, l - 1), zeros_like(lossMask.narrow(1, 0, 1)) }, 1);
        return shifted.to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }
}

using MLNetExtensions.Core.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.AlignKd;

/// <summary>
/// The Align-KD loss terms as pure functions of tensors (note §2.3), all in float32, all masked so a padded row or
/// column never enters a mean. Masks are (B, L) with 1 = selected; attention is (B, H, L, L), query then key.
/// </summary>
public static class AlignKdLosses
{

    /// <summary>
    /// Logit distillation over the positions where <paramref name="positions"/> (B, L) is 1: per position the
    /// divergence between softmax(teacher/τ) and softmax(student/τ), times τ², averaged over the selected positions.
    /// </summary>
    public static Tensor Kd(Tensor studentLogits, Tensor teacherLogits, Tensor positions, KdDivergence divergence, double temperature = 1.0)
    {
        if (!studentLogits.shape.SequenceEqual(teacherLogits.shape))
            throw new ArgumentException($"AlignKd: student and teacher logits differ in shape ({string.Join(", ", studentLogits.shape)}) vs ({string.Join(", ", teacherLogits.shape)}); the same vocabulary and splice are required.");
        if (!(temperature > 0)) throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "KdTemperature must be > 0.");
        using var scope = NewDisposeScope();
        var ls = studentLogits.to_type(ScalarType.Float32).Times(1.0 / temperature).log_softmax(-1);
        var lt = teacherLogits.to_type(ScalarType.Float32).Times(1.0 / temperature).log_softmax(-1);
        var per = divergence == KdDivergence.ForwardKl
            ? lt.exp().mul(ls).sum(-1).neg()
            : ls.exp().mul(ls.sub(lt)).sum(-1);
        var m = positions.to_type(ScalarType.Float32);
        var count = m.sum();
        return per.mul(m).sum().div(count.clamp_min(OneF)).Times(temperature * temperature).MoveToOuterDisposeScope();
    }

    private static readonly Scalar OneF = 1.0f;

    /// <summary>The (B, L, L) entry mask of a block: rows[b, i] · cols[b, j].</summary>
    public static Tensor EntryMask(Tensor rows, Tensor cols) =>
        rows.to_type(ScalarType.Float32).unsqueeze(2).mul(cols.to_type(ScalarType.Float32).unsqueeze(1));

    /// <summary>
    /// Squared-error attention distillation between <paramref name="student"/> and <paramref name="target"/> (both
    /// (B, H, L, L), already head-matched) on the entries selected by rows × cols.
    /// </summary>
    public static Tensor Attention(Tensor student, Tensor target, Tensor rows, Tensor cols, AttentionReduction reduction)
    {
        if (!student.shape.SequenceEqual(target.shape))
            throw new ArgumentException($"AlignKd: head-matched attention maps differ in shape ({string.Join(", ", student.shape)}) vs ({string.Join(", ", target.shape)}).");
        using var scope = NewDisposeScope();
        long h = student.shape[1];
        var m = EntryMask(rows, cols).unsqueeze(1);                              // (B, 1, L, L)
        var sq = student.to_type(ScalarType.Float32).sub(target.to_type(ScalarType.Float32)).Squared().mul(m).sum();
        Tensor denom = reduction == AttentionReduction.MeanOverEntries
            ? m.sum()
            : m.amax(new long[] { 3 }).sum();                                      // query rows with ≥ 1 selected key
        return sq.div(denom.Times(h).clamp_min(OneF)).MoveToOuterDisposeScope();
    }

    /// <summary>Vision mask (B, L): 1 on s_b … s_b + N − 1.</summary>
    public static Tensor VisionMask(long[] starts, int visionCount, long length, Device? device = null)
    {
        var host = new float[starts.Length * length];
        for (int b = 0; b < starts.Length; b++)
        {
            if (starts[b] < 0 || starts[b] + visionCount > length)
                throw new ArgumentOutOfRangeException(nameof(starts), $"AlignKd: row {b}'s vision block {starts[b]}…{starts[b] + visionCount - 1} lies outside length {length}.");
            for (int j = 0; j < visionCount; j++) host[b * length + starts[b] + j] = 1;
        }
        return tensor(host, new long[] { starts.Length, length }, device: device);
    }

    /// <summary>Text mask (B, L): real positions after the vision block.</summary>
    public static Tensor TextMask(long[] starts, int visionCount, Tensor mask)
    {
        long b = mask.shape[0], l = mask.shape[1];
        var host = new float[b * l];
        for (int r = 0; r < b; r++)
            for (long j = starts[r] + visionCount; j < l; j++) host[r * l + j] = 1;
        using var after = tensor(host, new long[] { b, l }, device: mask.device);
        return after.mul(mask.to_type(ScalarType.Float32));
    }

    /// <summary>
    /// Focus scores f (B, N): Σ over the selected query rows of the head-mean teacher attention to vision token n
    /// (column s_b + n).
    /// </summary>
    public static Tensor FocusScores(Tensor teacherAttention, Tensor rows, long[] starts, int visionCount)
    {
        using var scope = NewDisposeScope();
        var v = FocusScoresPerRow(teacherAttention, starts, visionCount);                       // (B, L, N)
        return v.mul(rows.to_type(ScalarType.Float32).unsqueeze(2)).sum(1).MoveToOuterDisposeScope();
    }

    /// <summary>Head-mean attention of every query row to the N vision keys of its sample: (B, L, N).</summary>
    public static Tensor FocusScoresPerRow(Tensor attention, long[] starts, int visionCount)
    {
        using var scope = NewDisposeScope();
        long b = attention.shape[0], l = attention.shape[2];
        if (starts.Length != b) throw new ArgumentException($"AlignKd: {starts.Length} splice indices for {b} rows.");
        var mean = attention.to_type(ScalarType.Float32).mean(new long[] { 1 });                 // (B, L, L)
        var idx = new long[b * visionCount];
        for (int r = 0; r < b; r++)
        {
            if (starts[r] < 0 || starts[r] + visionCount > l)
                throw new ArgumentOutOfRangeException(nameof(starts), $"AlignKd: row {r}'s vision block {starts[r]}…{starts[r] + visionCount - 1} lies outside length {l}.");
            for (int n = 0; n < visionCount; n++) idx[r * visionCount + n] = starts[r] + n;
        }
        var cols = tensor(idx, new long[] { b, 1, visionCount }, device: attention.device).expand(b, l, visionCount);
        return mean.gather(2, cols).MoveToOuterDisposeScope();
    }

    /// <summary>Top-k focus token indices (B, k) in the vision block's own 0…N−1 numbering.</summary>
    public static Tensor FocusIndices(Tensor teacherAttention, Tensor rows, long[] starts, int visionCount, int k)
    {
        if (k < 1 || k > visionCount) throw new ArgumentOutOfRangeException(nameof(k), k, $"FocusTopK must be in 1..{visionCount}.");
        using var scope = NewDisposeScope();
        var f = FocusScores(teacherAttention, rows, starts, visionCount);
        return f.topk(k, dim: 1).indexes.MoveToOuterDisposeScope();
    }

    /// <summary>Rows <paramref name="indices"/> (B, k) of tokens (B, N, D): (B, k, D).</summary>
    public static Tensor GatherTokens(Tensor tokens, Tensor indices)
    {
        long b = tokens.shape[0], d = tokens.shape[2], k = indices.shape[1];
        using var scope = NewDisposeScope();
        return tokens.gather(1, indices.unsqueeze(2).expand(b, k, d)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// L_V = mean(Δ²) over all vision tokens + mean(Δ²) over the focus tokens (when <paramref name="focus"/> is given),
    /// Δ = prediction − target, both (B, N, D).
    /// </summary>
    public static Tensor Projection(Tensor prediction, Tensor target, Tensor? focus)
    {
        if (!prediction.shape.SequenceEqual(target.shape))
            throw new ArgumentException($"AlignKd: adapted vision tokens differ in shape ({string.Join(", ", prediction.shape)}) vs ({string.Join(", ", target.shape)}).");
        using var scope = NewDisposeScope();
        var delta = prediction.to_type(ScalarType.Float32).sub(target.to_type(ScalarType.Float32));
        var all = delta.Squared().mean();
        if (focus is null) return all.MoveToOuterDisposeScope();
        return all.Plus(GatherTokens(delta, focus).Squared().mean()).MoveToOuterDisposeScope();
    }
}

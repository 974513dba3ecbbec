using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.AlignKd;

/// <summary>The miniature's alignment diagnostics (note §5.3): "quad" and "attKL" on head-mean layer-0 attention.</summary>
public static class AlignKdDiagnostics
{
    private static readonly Scalar Eps = 1e-8f;

    /// <summary>
    /// Per row, the share of the head-mean attention that query <paramref name="queryRow"/>[b] puts on the vision tokens
    /// of quadrant <paramref name="quadrant"/>[b] (TL, TR, BL, BR of a side×side token grid), among all its vision attention.
    /// </summary>
    public static double[] Quad(Tensor attention, long[] queryRow, long[] starts, int side, int[] quadrant)
    {
        using var scope = NewDisposeScope();
        var mean = attention.to_type(ScalarType.Float32).mean(new long[] { 1 }).cpu();                  // (B, L, L)
        long b = mean.shape[0], l = mean.shape[2];
        var host = mean.data<float>().ToArray();
        var result = new double[b];
        int half = side / 2;
        for (int r = 0; r < b; r++)
        {
            double inside = 0, all = 0;
            for (int n = 0; n < side * side; n++)
            {
                double a = host[(r * l + queryRow[r]) * l + starts[r] + n];
                all += a;
                int row = n / side, col = n % side, q = (row >= half ? 2 : 0) + (col >= half ? 1 : 0);
                if (q == quadrant[r]) inside += a;
            }
            result[r] = all > 0 ? inside / all : 0;
        }
        return result;
    }

    /// <summary>
    /// Per batch row, the mean over its text rows of KL(teacher ‖ student) between the row-normalised head-mean
    /// text→vision attention distributions.
    /// </summary>
    public static double[] AttentionKl(Tensor teacherAttention, Tensor studentAttention, Tensor textRows, long[] starts, int visionCount)
    {
        using var scope = NewDisposeScope();
        var t = AlignKdLosses.FocusScoresPerRow(teacherAttention, starts, visionCount);
        var s = AlignKdLosses.FocusScoresPerRow(studentAttention, starts, visionCount);
        var p = t.div(t.sum(-1, keepdim: true).clamp_min(Eps)).clamp_min(Eps);
        var q = s.div(s.sum(-1, keepdim: true).clamp_min(Eps)).clamp_min(Eps);
        var kl = p.mul(p.log().sub(q.log())).sum(-1);                                                     // (B, L)
        var m = textRows.to_type(ScalarType.Float32);
        var per = kl.mul(m).sum(1).div(m.sum(1).clamp_min(Eps)).cpu();
        return per.data<float>().Select(v => (double)v).ToArray();
    }
}

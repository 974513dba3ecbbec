namespace MLNetExtensions.Evaluators.TemporalLocalization;

/// <summary>
/// The few numpy float64 routines the ActivityNet evaluator depends on, reproduced bit for bit: a tIoU equal to a
/// threshold decides a match, and the mean over classes is a numpy pairwise sum.
/// </summary>
public static class NumpyCompat
{
    /// <summary>
    /// <c>numpy.linspace(start, stop, num)</c> (endpoint included): <c>i·step + start</c> with <c>step = (stop − start)/(num − 1)</c>,
    /// the last value set to <paramref name="stop"/>. E.g. <c>Linspace(0.3, 0.7, 5)[1] = 0.39999999999999997</c>.
    /// </summary>
    public static double[] Linspace(double start, double stop, int num)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(num);
        var y = new double[num];
        if (num == 0) return y;
        if (num == 1) { y[0] = start; return y; }
        double delta = stop - start;
        double step = delta / (num - 1);
        for (int i = 0; i < num; i++)
            // numpy divides instead when the step underflows to 0 (start == stop needs no special case: delta is 0).
            y[i] = (step == 0 ? i / (double)(num - 1) * delta : i * step) + start;
        y[num - 1] = stop;
        return y;
    }

    /// <summary>numpy's float64 <c>add.reduce</c> over a contiguous array (pairwise summation with 8 accumulators, blocks of 128).</summary>
    public static double Sum(ReadOnlySpan<double> a)
    {
        if (a.Length < 8)
        {
            double res = 0.0;
            foreach (var v in a) res += v;
            return res;
        }
        if (a.Length <= 128)
        {
            Span<double> r = stackalloc double[8];
            for (int j = 0; j < 8; j++) r[j] = a[j];
            int i = 8;
            for (; i < a.Length - (a.Length % 8); i += 8)
                for (int j = 0; j < 8; j++) r[j] += a[i + j];
            double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
            for (; i < a.Length; i++) res += a[i];
            return res;
        }
        int n2 = a.Length / 2;
        n2 -= n2 % 8;
        return Sum(a[..n2]) + Sum(a[n2..]);
    }

    /// <summary><c>numpy.mean</c> of a float64 vector (pairwise sum divided by the count); NaN for an empty input.</summary>
    public static double Mean(ReadOnlySpan<double> a) => a.Length == 0 ? double.NaN : Sum(a) / a.Length;
}

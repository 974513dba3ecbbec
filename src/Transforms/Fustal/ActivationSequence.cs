namespace MLNetExtensions.Transforms.Fustal;

/// <summary>Per-series preprocessing of class activation sequences before proposal generation (CoLA <c>minmax_norm</c>, <c>upgrade_resolution</c>).</summary>
public static class ActivationSequence
{
    /// <summary>
    /// Min-max normalisation over time: <c>(v − min)/(max − min)</c> with min and max clipped at ≥ 0 (ReLU), a range ≤ 0
    /// replaced by 1, and the result clamped to [0, 1]. Float arithmetic, as the torch original.
    /// </summary>
    public static float[] MinMaxNormalize(ReadOnlySpan<float> series)
    {
        if (series.Length == 0) return Array.Empty<float>();
        float max = float.NegativeInfinity, min = float.PositiveInfinity;
        foreach (var v in series) { if (v > max) max = v; if (v < min) min = v; }
        max = Math.Max(max, 0f);
        min = Math.Max(min, 0f);
        float delta = max - min;
        if (delta <= 0) delta = 1;
        var r = new float[series.Length];
        for (int t = 0; t < r.Length; t++)
            r[t] = Math.Clamp((series[t] - min) / delta, 0f, 1f);
        return r;
    }

    /// <summary>
    /// Linear up-sampling ×<paramref name="scale"/> at numpy <c>arange(0, T, 1/scale)</c> points, as scipy
    /// <c>interp1d(kind='linear', fill_value='extrapolate')</c>: the last segment's slope extends past snippet T − 1.
    /// A single snippet is repeated.
    /// </summary>
    public static double[] Upsample(ReadOnlySpan<float> series, int scale)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(scale, 1);
        int t = series.Length;
        var x = SegmentMath.Arange(0, t, 1.0 / scale);
        var y = new double[x.Length];
        if (t == 0) return y;
        if (t == 1) { Array.Fill(y, series[0]); return y; }
        for (int i = 0; i < x.Length; i++)
        {
            // searchsorted(left) over 0..T−1 is ceil(x), clipped to [1, T−1].
            int hi = Math.Clamp((int)Math.Ceiling(x[i]), 1, t - 1);
            int lo = hi - 1;
            double slope = ((double)series[hi] - series[lo]) / 1.0;
            y[i] = slope * (x[i] - lo) + series[lo];
        }
        return y;
    }
}

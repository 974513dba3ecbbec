namespace MLNetExtensions.Transforms.Excp;

/// <summary>Per-tensor statistics of the weight criterion (method note §2.2).</summary>
/// <param name="MeanExpAvgSq">Tensor mean of <c>exp_avg_sq</c>.</param>
/// <param name="RawMultiplier">α/√mean(exp_avg_sq) before the clamp (float32).</param>
/// <param name="Multiplier">The multiplier used: min(clamp, raw).</param>
/// <param name="MedianAbsResidual">torch's lower median of |R| over all entries.</param>
/// <param name="Threshold">τ_w = multiplier · median(|R|); an entry survives iff |R| &gt; τ_w.</param>
public readonly record struct WeightCriterion(float MeanExpAvgSq, float RawMultiplier, float Multiplier, float MedianAbsResidual, float Threshold)
{
    /// <summary>True when the clamp decided the multiplier.</summary>
    public bool Clamped => Multiplier != RawMultiplier;
}

/// <summary>
/// ExCP's joint shrinking: the second moment decides which weight residuals survive, the surviving weights (and the
/// first moment) decide which moment entries survive. All statistics are per tensor, as in the official code.
/// </summary>
public static class ExcpPruning
{
    /// <summary>
    /// τ_w = min(clamp, α/√mean(v))·median(|R|). The official code uses the tensor MEAN of <c>exp_avg_sq</c> (a scalar),
    /// not the paper's elementwise √v, and clamps the multiplier at 2.5 (neither is in the paper's formula).
    /// </summary>
    public static WeightCriterion WeightThreshold(ReadOnlySpan<float> residual, ReadOnlySpan<float> expAvgSq, double alpha, double clamp)
    {
        if (residual.Length != expAvgSq.Length) throw new ArgumentException($"Residual ({residual.Length}) and exp_avg_sq ({expAvgSq.Length}) differ in length.");
        float meanV = Mean(expAvgSq, abs: false);
        float raw = (float)(alpha / Math.Sqrt(meanV));
        // Python's min(2.5, s) keeps 2.5 unless s < 2.5 (also for NaN/∞ from an all-zero second moment).
        float mult = raw < (float)clamp ? raw : (float)clamp;
        float median = LowerMedianAbs(residual);
        return new WeightCriterion(meanV, raw, mult, median, median * mult);
    }

    /// <summary>M_w = |R| &gt; τ_w (strict).</summary>
    public static bool[] WeightMask(ReadOnlySpan<float> residual, float threshold)
    {
        var m = new bool[residual.Length];
        for (int i = 0; i < m.Length; i++) m[i] = MathF.Abs(residual[i]) > threshold;
        return m;
    }

    /// <summary>
    /// Not in the official code: if fewer than ⌈<paramref name="minFraction"/>·n⌉ entries survive, keep the entries whose
    /// |R| is at least the k-th largest instead (ties may add a few; exact zeros never survive).
    /// </summary>
    public static bool[] ApplyKeptFloor(bool[] mask, ReadOnlySpan<float> residual, double minFraction)
    {
        int n = residual.Length, k = (int)Math.Ceiling(minFraction * n);
        if (k == 0 || mask.Count(b => b) >= k) return mask;
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = MathF.Abs(residual[i]);
        float kth = Select(a, n - k);
        var m = new bool[n];
        for (int i = 0; i < n; i++) m[i] = mask[i] || (MathF.Abs(residual[i]) >= kth && residual[i] != 0);
        return m;
    }

    /// <summary>τ_o = β·mean(|exp_avg|) (float32).</summary>
    public static float MomentumThreshold(ReadOnlySpan<float> expAvg, double beta) => (float)(beta * Mean(expAvg, abs: true));

    /// <summary>
    /// M_o = (|m| &gt; τ_o) AND (pruned residual ≠ 0). <c>exp_avg_sq</c> has no criterion of its own: it is pruned with
    /// this mask too.
    /// </summary>
    public static bool[] MomentumMask(ReadOnlySpan<float> expAvg, float threshold, ReadOnlySpan<float> residual, ReadOnlySpan<bool> weightMask)
    {
        var m = new bool[expAvg.Length];
        for (int i = 0; i < m.Length; i++) m[i] = weightMask[i] && residual[i] != 0 && MathF.Abs(expAvg[i]) > threshold;
        return m;
    }

    /// <summary>Float32 mean (accumulated in double; the fixture's gaps to the thresholds are ≫ float rounding).</summary>
    public static float Mean(ReadOnlySpan<float> x, bool abs)
    {
        if (x.Length == 0) return float.NaN;
        double s = 0;
        if (abs) foreach (var v in x) s += Math.Abs(v);
        else foreach (var v in x) s += v;
        return (float)(s / x.Length);
    }

    /// <summary>torch.median semantics: the LOWER middle element (sorted[(n−1)/2]) of |x|.</summary>
    public static float LowerMedianAbs(ReadOnlySpan<float> x)
    {
        if (x.Length == 0) return float.NaN;
        var a = new float[x.Length];
        for (int i = 0; i < a.Length; i++) a[i] = MathF.Abs(x[i]);
        return Select(a, (a.Length - 1) / 2);
    }

    /// <summary>k-th smallest element (Hoare quickselect with median-of-three pivots; O(n) expected).</summary>
    private static float Select(float[] a, int k)
    {
        int lo = 0, hi = a.Length - 1;
        while (hi > lo)
        {
            if (hi - lo < 32) { Array.Sort(a, lo, hi - lo + 1); return a[k]; }
            int mid = lo + (hi - lo) / 2;
            if (a[mid] < a[lo]) (a[mid], a[lo]) = (a[lo], a[mid]);
            if (a[hi] < a[lo]) (a[hi], a[lo]) = (a[lo], a[hi]);
            if (a[hi] < a[mid]) (a[hi], a[mid]) = (a[mid], a[hi]);
            float pivot = a[mid];
            int i = lo, j = hi;
            while (i <= j)
            {
                while (a[i] < pivot) i++;
                while (a[j] > pivot) j--;
                if (i <= j) { (a[i], a[j]) = (a[j], a[i]); i++; j--; }
            }
            if (k <= j) hi = j;
            else if (k >= i) lo = i;
            else return a[k];
        }
        return a[k];
    }
}

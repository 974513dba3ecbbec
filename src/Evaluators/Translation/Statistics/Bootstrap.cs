namespace MLNetExtensions.Evaluators.Translation.Statistics;

/// <summary>A mean with a percentile bootstrap confidence interval.</summary>
/// <param name="Mean">Sample mean (NaN when there are no values).</param>
/// <param name="Lower">Lower bound of the interval.</param>
/// <param name="Upper">Upper bound of the interval.</param>
/// <param name="N">Number of values.</param>
public readonly record struct MeanInterval(double Mean, double Lower, double Upper, int N);

/// <summary>Percentile bootstrap over documents (resampling with replacement, seeded for reproducibility).</summary>
public static class Bootstrap
{
    /// <summary>Mean of <paramref name="values"/> with a <paramref name="confidence"/> percentile interval from <paramref name="samples"/> resamples.</summary>
    public static MeanInterval MeanCI(IReadOnlyList<double> values, int samples = 1000, double confidence = 0.95, int seed = 12345)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (confidence is <= 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(confidence), "confidence must be in (0, 1).");
        int n = values.Count;
        if (n == 0) return new MeanInterval(double.NaN, double.NaN, double.NaN, 0);
        double mean = values.Average();
        if (n == 1 || samples < 2) return new MeanInterval(mean, mean, mean, n);
        var rng = new Random(seed);
        var means = new double[samples];
        for (int b = 0; b < samples; b++)
        {
            double s = 0;
            for (int i = 0; i < n; i++) s += values[rng.Next(n)];
            means[b] = s / n;
        }
        Array.Sort(means);
        double alpha = (1 - confidence) / 2;
        return new MeanInterval(mean, Quantile(means, alpha), Quantile(means, 1 - alpha), n);
    }

    // Linear interpolation between order statistics (numpy's default "linear" method).
    internal static double Quantile(double[] sorted, double q)
    {
        double pos = q * (sorted.Length - 1);
        int lo = (int)Math.Floor(pos);
        int hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }
}

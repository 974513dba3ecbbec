namespace MLNetExtensions.Transforms.Rlhf.Sweep;

/// <summary>One reward model's point on the curve: its accuracy and the policy performance of each seed.</summary>
public sealed record CurvePoint(string RmId, double Accuracy, IReadOnlyList<double> PerSeed)
{
    /// <summary>Mean over seeds.</summary>
    public double Mean => PerSeed.Average();
    /// <summary>Sample s.d. over seeds (0 for one seed).</summary>
    public double Std => PerSeed.Count < 2 ? 0 : Math.Sqrt(PerSeed.Sum(v => (v - Mean) * (v - Mean)) / (PerSeed.Count - 1));
}

/// <summary>The note §7.6 verdict on one curve.</summary>
public sealed record ParadoxVerdict(string MostAccurateRm, double MostAccurateAccuracy, double MostAccuratePerf, string BestPerformingRm,
    double BestPerformingAccuracy, double BestPerformingPerf, double Gap, double GapCiLow, double GapCiHigh, double Spearman, double SpearmanCiLow,
    double SpearmanCiHigh, double QuadA, double QuadB, double QuadC, double Vertex, bool VertexInside, bool ParadoxObserved);

/// <summary>Curve statistics of the sweep summary (note §7.6): bootstrap CI of the gap, Spearman ρ with CI, quadratic fit, the paradox rule.</summary>
public static class SweepStatistics
{
    /// <summary>Accuracy margin of the paradox rule (best-performing RM at least this much below the maximum).</summary>
    public const double AccuracyMargin = 0.02;

    /// <summary>
    /// The verdict: best-performing RM = highest mean performance; most accurate = highest accuracy; gap = their mean
    /// difference with a seeded percentile bootstrap over seeds (each RM's seeds resampled); Spearman ρ over the points
    /// with a bootstrap over points; least-squares perf = a + b·acc + c·acc². <c>ParadoxObserved</c> ⇔ the best RM's
    /// accuracy is ≥ 0.02 below the maximum and the gap's 95 % CI excludes 0.
    /// </summary>
    public static ParadoxVerdict Analyse(IReadOnlyList<CurvePoint> points, int bootstrap = 2000, int seed = 0)
    {
        if (points.Count < 2) throw new ArgumentException("SweepStatistics.Analyse: need at least two reward models.", nameof(points));
        var most = points.OrderByDescending(p => p.Accuracy).First();
        var best = points.OrderByDescending(p => p.Mean).ThenByDescending(p => p.Accuracy).First();
        var rng = new Random(seed);
        var gaps = new double[bootstrap];
        for (int i = 0; i < bootstrap; i++) gaps[i] = Resample(best.PerSeed, rng).Average() - Resample(most.PerSeed, rng).Average();
        Array.Sort(gaps);
        var rhos = new List<double>();
        for (int i = 0; i < bootstrap; i++)
        {
            var pts = Enumerable.Range(0, points.Count).Select(_ => points[rng.Next(points.Count)]).ToArray();
            double r = Spearman(pts.Select(p => p.Accuracy).ToArray(), pts.Select(p => p.Mean).ToArray());
            if (!double.IsNaN(r)) rhos.Add(r);
        }
        rhos.Sort();
        var (a, b, c) = Quadratic(points.Select(p => p.Accuracy).ToArray(), points.Select(p => p.Mean).ToArray());
        double vertex = c != 0 ? -b / (2 * c) : double.NaN;
        double lo = points.Min(p => p.Accuracy), hi = points.Max(p => p.Accuracy);
        double gap = best.Mean - most.Mean, gLo = Percentile(gaps, 0.025), gHi = Percentile(gaps, 0.975);
        bool paradox = best.Accuracy <= most.Accuracy - AccuracyMargin && (gLo > 0 || gHi < 0) && gap > 0;
        return new ParadoxVerdict(most.RmId, most.Accuracy, most.Mean, best.RmId, best.Accuracy, best.Mean, gap, gLo, gHi,
            Spearman(points.Select(p => p.Accuracy).ToArray(), points.Select(p => p.Mean).ToArray()),
            rhos.Count == 0 ? double.NaN : Percentile(rhos.ToArray(), 0.025), rhos.Count == 0 ? double.NaN : Percentile(rhos.ToArray(), 0.975),
            a, b, c, vertex, !double.IsNaN(vertex) && vertex >= lo && vertex <= hi, paradox);
    }

    private static double[] Resample(IReadOnlyList<double> v, Random rng) => Enumerable.Range(0, v.Count).Select(_ => v[rng.Next(v.Count)]).ToArray();

    /// <summary>Linear-interpolated percentile of sorted values.</summary>
    public static double Percentile(double[] sorted, double q)
    {
        double pos = q * (sorted.Length - 1);
        int i = (int)Math.Floor(pos);
        return i + 1 < sorted.Length ? sorted[i] + (pos - i) * (sorted[i + 1] - sorted[i]) : sorted[i];
    }

    /// <summary>Spearman rank correlation (average ranks for ties); NaN when a side is constant.</summary>
    public static double Spearman(double[] x, double[] y)
    {
        var rx = Ranks(x); var ry = Ranks(y);
        double mx = rx.Average(), my = ry.Average(), sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < x.Length; i++) { sxy += (rx[i] - mx) * (ry[i] - my); sxx += (rx[i] - mx) * (rx[i] - mx); syy += (ry[i] - my) * (ry[i] - my); }
        return sxx == 0 || syy == 0 ? double.NaN : sxy / Math.Sqrt(sxx * syy);
    }

    private static double[] Ranks(double[] v)
    {
        var order = Enumerable.Range(0, v.Length).OrderBy(i => v[i]).ToArray();
        var r = new double[v.Length];
        for (int s = 0; s < order.Length;)
        {
            int e = s;
            while (e + 1 < order.Length && v[order[e + 1]] == v[order[s]]) e++;
            for (int k = s; k <= e; k++) r[order[k]] = (s + e) / 2.0 + 1;
            s = e + 1;
        }
        return r;
    }

    /// <summary>Least-squares y = a + b·x + c·x² (normal equations, Cramer's rule); zeros with fewer than 3 distinct x.</summary>
    public static (double A, double B, double C) Quadratic(double[] x, double[] y)
    {
        if (x.Distinct().Count() < 3) return (y.Average(), 0, 0);
        // Centre x for conditioning, then map back.
        double m = x.Average();
        var u = x.Select(v => v - m).ToArray();
        double s0 = u.Length, s1 = u.Sum(), s2 = u.Sum(v => v * v), s3 = u.Sum(v => v * v * v), s4 = u.Sum(v => v * v * v * v);
        double t0 = y.Sum(), t1 = u.Zip(y).Sum(p => p.First * p.Second), t2 = u.Zip(y).Sum(p => p.First * p.First * p.Second);
        double det = Det(s0, s1, s2, s1, s2, s3, s2, s3, s4);
        double a = Det(t0, s1, s2, t1, s2, s3, t2, s3, s4) / det;
        double b = Det(s0, t0, s2, s1, t1, s3, s2, t2, s4) / det;
        double c = Det(s0, s1, t0, s1, s2, t1, s2, s3, t2) / det;
        // y = a + b(x − m) + c(x − m)² = (a − b m + c m²) + (b − 2 c m) x + c x²
        return (a - b * m + c * m * m, b - 2 * c * m, c);
    }

    private static double Det(double a, double b, double c, double d, double e, double f, double g, double h, double i) =>
        a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
}

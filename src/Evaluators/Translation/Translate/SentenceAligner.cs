namespace MLNetExtensions.Evaluators.Translation.Translate;

/// <summary>One alignment bead: source sentence indices aligned with target sentence indices (either may be empty).</summary>
public sealed record AlignmentBead(IReadOnlyList<int> Source, IReadOnlyList<int> Target);

/// <summary>
/// Realigns translated sentences with their source sentences by length-based dynamic programming
/// (Gale &amp; Church 1993): beads 1-1, 1-0, 0-1, 2-1, 1-2 and 2-2, cost from the character-length ratio.
/// </summary>
public static class SentenceAligner
{
    private const double Variance = 6.8;
    private static readonly (int S, int T, double Prior)[] BeadTypes =
    {
        (1, 1, 0.89), (1, 0, 0.0099 / 2), (0, 1, 0.0099 / 2), (2, 1, 0.089 / 2), (1, 2, 0.089 / 2), (2, 2, 0.011),
    };

    /// <summary>
    /// Aligns <paramref name="source"/> and <paramref name="target"/> sentences. Equal counts are not assumed to be
    /// 1:1 (a merge and a split elsewhere cancel out), so the dynamic programme always runs.
    /// </summary>
    public static IReadOnlyList<AlignmentBead> Align(IReadOnlyList<string> source, IReadOnlyList<string> target)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        int n = source.Count, m = target.Count;
        var ls = source.Select(Len).ToArray();
        var lt = target.Select(Len).ToArray();
        // Expected target/source length ratio of this document (languages differ a lot, e.g. zh vs en).
        double ratio = ls.Sum() > 0 && lt.Sum() > 0 ? (double)lt.Sum() / ls.Sum() : 1.0;
        var cost = new double[n + 1, m + 1];
        var back = new int[n + 1, m + 1];
        for (int i = 0; i <= n; i++)
            for (int j = 0; j <= m; j++)
            {
                if (i == 0 && j == 0) continue;
                cost[i, j] = double.PositiveInfinity;
                for (int b = 0; b < BeadTypes.Length; b++)
                {
                    var (ds, dt, prior) = BeadTypes[b];
                    if (i < ds || j < dt || double.IsPositiveInfinity(cost[i - ds, j - dt])) continue;
                    int a = 0, t = 0;
                    for (int k = 1; k <= ds; k++) a += ls[i - k];
                    for (int k = 1; k <= dt; k++) t += lt[j - k];
                    double c = cost[i - ds, j - dt] + BeadCost(a, t, ratio, prior);
                    if (c < cost[i, j]) { cost[i, j] = c; back[i, j] = b; }
                }
            }
        var beads = new List<AlignmentBead>();
        for (int i = n, j = m; i > 0 || j > 0;)
        {
            var (ds, dt, _) = BeadTypes[back[i, j]];
            beads.Add(new AlignmentBead(Enumerable.Range(i - ds, ds).ToArray(), Enumerable.Range(j - dt, dt).ToArray()));
            i -= ds; j -= dt;
        }
        beads.Reverse();
        return beads;
    }

    /// <summary>
    /// One target string per source sentence: a bead's target sentences are joined and given to the bead's first
    /// source sentence; the other source sentences of a 2-x bead, and 1-0 beads, get an empty string.
    /// </summary>
    public static IReadOnlyList<string> Project(IReadOnlyList<string> source, IReadOnlyList<string> target, IReadOnlyList<AlignmentBead> beads, string separator = " ")
    {
        var result = Enumerable.Repeat("", source.Count).ToArray();
        int lastSource = -1;
        foreach (var b in beads)
        {
            var text = string.Join(separator, b.Target.Select(t => target[t]));
            if (b.Source.Count > 0) { result[b.Source[0]] = text; lastSource = b.Source[^1]; }
            else if (text.Length > 0)
            {
                // 0-1 bead: attach the extra target sentence to the previous source sentence (or the first one).
                int k = Math.Max(lastSource, 0);
                if (result.Length > 0) result[k] = result[k].Length == 0 ? text : result[k] + separator + text;
            }
        }
        return result;
    }

    private static int Len(string s) => s.EnumerateRunes().Count(r => !System.Text.Rune.IsWhiteSpace(r));

    private static double BeadCost(int sourceLen, int targetLen, double ratio, double prior)
    {
        double mean = (sourceLen * ratio + targetLen) / 2.0;
        double delta = mean <= 0 ? 0 : (targetLen - sourceLen * ratio) / Math.Sqrt(Variance * mean);
        double p = 2 * (1 - Phi(Math.Abs(delta)));
        return -Math.Log(prior) - Math.Log(Math.Max(p, 1e-300));
    }

    // Standard normal CDF via the Abramowitz–Stegun erf approximation (7.1.26), accurate to ~1e-7.
    private static double Phi(double x)
    {
        double z = Math.Abs(x) / Math.Sqrt(2);
        double t = 1 / (1 + 0.3275911 * z);
        double erf = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.Exp(-z * z);
        return 0.5 * (1 + (x >= 0 ? erf : -erf));
    }
}

namespace MLNetExtensions.Transforms.Fustal;

/// <summary>
/// CoLA's hard-snippet regions of one actionness sequence (<c>hard_snippets_mining</c>): binarise at the median
/// (<c>a &gt; median</c>, numpy's median averages the two middle values), then 1-D binary erosion/dilation with all-ones
/// windows and a zero border, as scipy.ndimage: erosion by a window of n looks at <c>t − ⌊n/2⌋ … t + ⌈n/2⌉ − 1</c>,
/// dilation at the mirrored window <c>t − ⌈n/2⌉ + 1 … t + ⌊n/2⌋</c> (they differ only for even n).
/// </summary>
public static class HardSnippetRegions
{
    /// <summary>Inner band <c>erode_m(b) − erode_M(b)</c> (hard actions) and outer band <c>dilate_M(b) − dilate_m(b)</c> (hard backgrounds), as 0/1.</summary>
    public static (float[] Inner, float[] Outer) Compute(ReadOnlySpan<float> actionness, int m = 3, int bigM = 6)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(m, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(bigM, 1);
        var b = Binarize(actionness);
        var em = Erode(b, m);
        var eM = Erode(b, bigM);
        var dm = Dilate(b, m);
        var dM = Dilate(b, bigM);
        var inner = new float[b.Length];
        var outer = new float[b.Length];
        for (int t = 0; t < b.Length; t++)
        {
            inner[t] = (em[t] ? 1f : 0f) - (eM[t] ? 1f : 0f);
            outer[t] = (dM[t] ? 1f : 0f) - (dm[t] ? 1f : 0f);
        }
        return (inner, outer);
    }

    /// <summary><c>a_t &gt; median(a)</c>.</summary>
    public static bool[] Binarize(ReadOnlySpan<float> a)
    {
        if (a.Length == 0) return Array.Empty<bool>();
        var sorted = a.ToArray();
        Array.Sort(sorted);
        int h = sorted.Length / 2;
        float median = sorted.Length % 2 == 1 ? sorted[h] : (sorted[h - 1] + sorted[h]) / 2f;
        var b = new bool[a.Length];
        for (int t = 0; t < a.Length; t++) b[t] = a[t] > median;
        return b;
    }

    /// <summary>scipy <c>binary_erosion</c> with <c>np.ones(n)</c>, border 0.</summary>
    public static bool[] Erode(bool[] b, int n)
    {
        int lo = n / 2, hi = n - 1 - n / 2;
        var r = new bool[b.Length];
        for (int t = 0; t < b.Length; t++)
        {
            bool all = true;
            for (int j = t - lo; j <= t + hi && all; j++) all = j >= 0 && j < b.Length && b[j];
            r[t] = all;
        }
        return r;
    }

    /// <summary>scipy <c>binary_dilation</c> with <c>np.ones(n)</c>, border 0 (the structure is mirrored, so even windows lean right).</summary>
    public static bool[] Dilate(bool[] b, int n)
    {
        int lo = n - 1 - n / 2, hi = n / 2;
        var r = new bool[b.Length];
        for (int t = 0; t < b.Length; t++)
        {
            bool any = false;
            for (int j = Math.Max(0, t - lo); j <= Math.Min(b.Length - 1, t + hi) && !any; j++) any = b[j];
            r[t] = any;
        }
        return r;
    }
}

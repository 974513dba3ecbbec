namespace MLNetExtensions.Transforms.Fustal;

/// <summary>1-D segment overlaps in the two conventions FuSTAL uses, and the numpy orderings its code relies on.</summary>
public static class SegmentMath
{
    /// <summary>Standard tIoU (no "+1"); 0 when both segments have zero length.</summary>
    public static double IoU(double s1, double e1, double s2, double e2)
    {
        double inter = Math.Max(0.0, Math.Min(e1, e2) - Math.Max(s1, s2));
        double union = (e1 - s1) + (e2 - s2) - inter;
        return union > 0 ? inter / union : 0.0;
    }

    /// <summary>
    /// CoLA's legacy NMS overlap: lengths <c>e − s + 1</c>, intersection <c>max(0, min e − max s + 1)</c> — kept as written
    /// even though the times are seconds, not frame indices.
    /// </summary>
    public static double IoUPlusOne(double s1, double e1, double s2, double e2)
    {
        double inter = Math.Max(0.0, Math.Min(e1, e2) - Math.Max(s1, s2) + 1);
        return inter / ((e1 - s1 + 1) + (e2 - s2 + 1) - inter);
    }

    /// <summary>Indices by value descending, ties by index descending (numpy <c>argsort()[::-1]</c>, exact for up to 16 values).</summary>
    public static int[] DescendingLaterFirst(IReadOnlyList<double> values)
    {
        var idx = new int[values.Count];
        for (int i = 0; i < idx.Length; i++) idx[i] = i;
        Array.Sort(idx, (a, b) =>
        {
            int c = values[b].CompareTo(values[a]);
            return c != 0 ? c : b.CompareTo(a);
        });
        return idx;
    }

    /// <summary>
    /// <c>numpy.arange(start, stop, step)</c> for floats: <c>ceil((stop − start)/step)</c> values <c>start + i·δ</c> with
    /// <c>δ = (start + step) − start</c> (numpy's fill), so e.g. <c>Arange(0.1, 0.925, 0.025)</c> has 33 values ending at 0.8999999999999998.
    /// </summary>
    public static double[] Arange(double start, double stop, double step)
    {
        if (!(step != 0) || !double.IsFinite(step)) throw new ArgumentOutOfRangeException(nameof(step), step, "The step must be finite and non-zero.");
        double len = Math.Ceiling((stop - start) / step);
        int n = len > 0 ? checked((int)len) : 0;
        var y = new double[n];
        if (n == 0) return y;
        y[0] = start;
        if (n == 1) return y;
        double delta = (start + step) - start;
        y[1] = start + step;
        for (int i = 2; i < n; i++) y[i] = start + i * delta;
        return y;
    }
}

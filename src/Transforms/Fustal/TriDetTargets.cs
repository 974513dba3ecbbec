namespace MLNetExtensions.Transforms.Fustal;

/// <summary>
/// ActionFormer/TriDet label assignment for one video (note fustal.md §5.1): a pyramid position g (stride s) is a
/// positive of a target segment [a, b] when it lies inside the centre region <c>[max(a, c − r·s), min(b, c + r·s)]</c>
/// (c the centre, r = 1.5, strictly inside) and the larger of its distances to the ends lies in the level's regression
/// range; a position inside several takes the shortest segment (classes of equally short ones are all set).
/// Targets: one-hot classes (P × C), distances (P × 2) in units of the stride, the class of the assigned segment (−1 = negative).
/// </summary>
public static class TriDetTargets
{
    /// <summary>The targets of <paramref name="segments"/> (grid units, class indices) over the positions given.</summary>
    public static (float[] Classes, float[] Offsets, int[] Assigned) Assign(IReadOnlyList<TemporalProposal> segments, float[] points, float[] strides,
        TriDetConfig config, double centerRadius = 1.5)
    {
        int p = points.Length, c = config.NumClasses;
        var cls = new float[p * c]; var off = new float[p * 2]; var assigned = new int[p];
        Array.Fill(assigned, -1);
        // Level of each stride: stride 2^l.
        for (int i = 0; i < p; i++)
        {
            double g = points[i], s = strides[i];
            int level = (int)Math.Round(Math.Log2(s));
            var (lo, hi) = config.RegressionRange(level);
            double best = double.PositiveInfinity; int bestJ = -1;
            var candidates = new List<(int J, double Len)>();
            for (int j = 0; j < segments.Count; j++)
            {
                var seg = segments[j];
                double left = g - seg.Start, right = seg.End - g;
                double centre = 0.5 * (seg.Start + seg.End);
                double cbLeft = g - Math.Max(centre - centerRadius * s, seg.Start), cbRight = Math.Min(centre + centerRadius * s, seg.End) - g;
                if (!(Math.Min(cbLeft, cbRight) > 0)) continue;
                double reach = Math.Max(left, right);
                if (reach < lo || reach > hi) continue;
                double length = seg.End - seg.Start;
                candidates.Add((j, length));
                if (length < best) { best = length; bestJ = j; }
            }
            if (bestJ < 0) continue;
            foreach (var (j, length) in candidates)
                if (length <= best + 1e-3) cls[i * c + segments[j].ClassIndex] = 1;
            var b = segments[bestJ];
            off[i * 2] = (float)((g - b.Start) / s);
            off[i * 2 + 1] = (float)((b.End - g) / s);
            assigned[i] = b.ClassIndex;
        }
        return (cls, off, assigned);
    }
}

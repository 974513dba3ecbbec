namespace MLNetExtensions.Transforms.Fustal;

/// <summary>
/// CoLA's resampling of a video's snippet sequence to a fixed length T (note fustal.md §2; <c>NpyFeature</c>
/// <c>random_perturb</c> for training, <c>uniform_sampling</c> for testing).
/// </summary>
public static class SnippetSampling
{
    /// <summary>Test-time indices: all snippets when <paramref name="length"/> ≤ T, else <c>⌊i·length/T⌋</c>.</summary>
    public static int[] Uniform(int length, int segments)
    {
        Check(length, segments);
        if (length <= segments) return Enumerable.Range(0, length).ToArray();
        var idx = new int[segments];
        for (int i = 0; i < segments; i++) idx[i] = (int)Math.Floor((double)i * length / segments);
        return idx;
    }

    /// <summary>
    /// Training indices: one random snippet per bin <c>[⌊i·length/T⌋, ⌊(i+1)·length/T⌋]</c> (both ends included, as the
    /// original's <c>range(a, b + 1)</c>), the last bin up to the end; T = length gives the identity. Longer T than
    /// length repeats snippets.
    /// </summary>
    public static int[] RandomPerturb(int length, int segments, Random rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        return Perturb(length, segments, (_, lo, hi) => rng.Next(lo, hi));
    }

    /// <summary>
    /// <see cref="RandomPerturb(int, int, Random)"/> with the draws given: <paramref name="uniforms"/> holds one value in
    /// [0, 1) per bin (e.g. from torch's seeded generator); bin i picks <c>lo + ⌊u_i·(hi − lo)⌋</c>.
    /// </summary>
    public static int[] RandomPerturb(int length, int segments, ReadOnlySpan<float> uniforms)
    {
        if (uniforms.Length < segments) throw new ArgumentException($"{uniforms.Length} draws for {segments} bins.", nameof(uniforms));
        var u = uniforms.ToArray();
        return Perturb(length, segments, (i, lo, hi) => Math.Min(hi - 1, lo + (int)(u[i] * (hi - lo))));
    }

    private static int[] Perturb(int length, int segments, Func<int, int, int, int> pick)
    {
        Check(length, segments);
        if (length == segments) return Enumerable.Range(0, length).ToArray();
        var idx = new int[segments];
        for (int i = 0; i < segments; i++)
        {
            int a = (int)((double)i * length / segments);
            if (i < segments - 1)
            {
                int b = (int)((double)(i + 1) * length / segments);
                idx[i] = a != b ? pick(i, a, b + 1) : a;
            }
            else idx[i] = a < length - 1 ? pick(i, a, length) : a;
        }
        return idx;
    }

    /// <summary>Gathers rows <paramref name="indices"/> of a T×D row-major feature matrix.</summary>
    public static float[] Gather(ReadOnlySpan<float> features, int featureDim, IReadOnlyList<int> indices)
    {
        var r = new float[indices.Count * featureDim];
        for (int i = 0; i < indices.Count; i++) features.Slice(indices[i] * featureDim, featureDim).CopyTo(r.AsSpan(i * featureDim));
        return r;
    }

    private static void Check(int length, int segments)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(segments, 1);
    }
}

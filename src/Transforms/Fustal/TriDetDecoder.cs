namespace MLNetExtensions.Transforms.Fustal;

/// <summary>Inference settings of the student (note fustal.md §5.3; official values).</summary>
public sealed record TriDetInferenceOptions
{
    /// <summary>Scores above this enter NMS. Default 0.001.</summary>
    public double PreNmsThreshold { get; init; } = 0.001;
    /// <summary>(position, class) pairs kept per level before NMS. Default 2000.</summary>
    public int PreNmsTopK { get; init; } = 2000;
    /// <summary>Segments shorter than this (grid steps) are dropped. Default 0.05.</summary>
    public double MinLength { get; init; } = 0.05;
    /// <summary>Gaussian soft-NMS σ. Default 0.5.</summary>
    public double Sigma { get; init; } = 0.5;
    /// <summary>Soft-NMS discards scores below this. Default 0.001.</summary>
    public double MinScore { get; init; } = 0.001;
    /// <summary>Segments kept per video. Default 2000.</summary>
    public int MaxSegments { get; init; } = 2000;

    /// <summary>Throws naming the first invalid setting.</summary>
    public void Validate()
    {
        if (PreNmsTopK < 1 || MaxSegments < 1) throw new ArgumentOutOfRangeException(nameof(PreNmsTopK), "PreNmsTopK and MaxSegments must be ≥ 1.");
        if (!(Sigma > 0)) throw new ArgumentOutOfRangeException(nameof(Sigma), Sigma, "Sigma must be > 0.");
        if (!(MinLength >= 0)) throw new ArgumentOutOfRangeException(nameof(MinLength), MinLength, "MinLength must be ≥ 0.");
    }
}

/// <summary>
/// The student's post-processing for one video (ActionFormer/TriDet <c>inference_single_video</c> with multi-class
/// soft-NMS, note §5.3): per level, sigmoid scores above the threshold, the top-k (position, class) pairs, segments
/// <c>[g − d_l·s, g + d_r·s]</c> from the class-wise Trident distances, drop of very short ones, then multi-class
/// Gaussian soft-NMS. Segments in grid units.
/// </summary>
public static class TriDetDecoder
{
    /// <summary>Decodes row <paramref name="row"/> of flattened network outputs (B × P × C logits and distances, B × P valid).</summary>
    public static List<TemporalProposal> Decode(float[] logits, float[] left, float[] right, float[] valid, float[] points, float[] strides,
        int row, int classes, TriDetInferenceOptions options)
    {
        int p = points.Length;
        var candidates = new List<TemporalProposal>();
        int start = 0;
        while (start < p)
        {
            int end = start;
            while (end < p && strides[end] == strides[start]) end++; // one level
            var level = new List<(double Score, int Pos, int Cls)>();
            for (int i = start; i < end; i++)
            {
                if (valid[row * p + i] <= 0) continue;
                for (int c = 0; c < classes; c++)
                {
                    double s = 1 / (1 + Math.Exp(-logits[(row * p + i) * classes + c]));
                    if (s > options.PreNmsThreshold) level.Add((s, i, c));
                }
            }
            // Top-k by score (stable: torch.sort is not, ties are rare in float scores).
            foreach (var (score, i, c) in level.OrderByDescending(x => x.Score).Take(options.PreNmsTopK))
            {
                int at = (row * p + i) * classes + c;
                double a = points[i] - left[at] * strides[i], b = points[i] + right[at] * strides[i];
                if (b - a > options.MinLength) candidates.Add(new TemporalProposal(c, score, a, b));
            }
            start = end;
        }
        return SoftNms.MultiClass(candidates, options.Sigma, options.MinScore, options.MaxSegments);
    }
}

namespace MLNetExtensions.Transforms.Excp;

/// <summary>
/// One-dimensional k-means identical to faiss 1.7.x CPU <c>Clustering::train</c> with an <c>IndexFlatL2</c> and faiss
/// defaults (niter 25, nredo 1, seed 1234, ≤ 256 points per centroid), as called by the official ExCP <c>quant()</c>
/// through <c>faiss.Kmeans(1, k, gpu=False)</c>. Every arithmetic step is rounded to float32 as faiss does, so centroids
/// and labels match bit for bit (method note §2.4.1).
/// </summary>
public static class FaissKMeans1D
{
    /// <summary>Implementation id recorded in compressed files.</summary>
    public const string ImplementationId = "faiss-1.7.3-compatible-kmeans-d1";

    /// <summary>faiss' <c>distance_compute_blas_threshold</c>: from this many queries on, distances use the BLAS form.</summary>
    private const int BlasThreshold = 20;

    /// <summary>Trains <paramref name="k"/> centroids on <paramref name="x"/> (needs x.Length ≥ k), returned in faiss' (unsorted) order.</summary>
    public static float[] Train(ReadOnlySpan<float> x, int k, int niter = 25, int seed = 1234, int maxPointsPerCentroid = 256)
    {
        if (k < 1) throw new ArgumentException($"k-means needs k ≥ 1, got {k}.");
        if (x.Length < k) throw new ArgumentException($"k-means with k = {k} needs at least {k} points, got {x.Length}.");
        float[] train;
        if (x.Length > (long)k * maxPointsPerCentroid)
        {
            // faiss subsamples k·max_points_per_centroid points, kept in permuted order.
            var perm = Mt19937.RandPerm(x.Length, seed);
            train = new float[k * maxPointsPerCentroid];
            for (int i = 0; i < train.Length; i++) train[i] = x[perm[i]];
        }
        else train = x.ToArray();

        int n = train.Length;
        var centroids = new float[k];
        if (n == k)
        {
            Array.Copy(train, centroids, k);
            return centroids;
        }

        var init = Mt19937.RandPerm(n, seed + 1); // seed + 1 + redo·15486557 with redo = 0
        for (int j = 0; j < k; j++) centroids[j] = train[init[j]];

        var assign = new int[n];
        var hassign = new float[k];
        for (int it = 0; it < niter; it++)
        {
            Assign(train, centroids, assign);
            // compute_centroids: float32 running sums in training order, then × float32(1/count).
            Array.Clear(centroids);
            Array.Clear(hassign);
            for (int i = 0; i < n; i++)
            {
                hassign[assign[i]] += 1f;
                centroids[assign[i]] += train[i];
            }
            for (int j = 0; j < k; j++)
            {
                if (hassign[j] == 0) continue;
                float norm = 1f / hassign[j];
                centroids[j] *= norm;
            }
            SplitEmptyClusters(centroids, hassign, n);
        }
        return centroids;
    }

    /// <summary>Nearest-centroid labels (0-based) for every point, with faiss' distance formula and lowest-index tie-break.</summary>
    public static int[] Assign(ReadOnlySpan<float> x, ReadOnlySpan<float> centroids)
    {
        var labels = new int[x.Length];
        Assign(x, centroids, labels);
        return labels;
    }

    private static void Assign(ReadOnlySpan<float> x, ReadOnlySpan<float> c, Span<int> labels)
    {
        int k = c.Length;
        if (x.Length >= BlasThreshold)
        {
            // BLAS path: d = (‖x‖² + ‖c‖²) − 2·⟨x,c⟩, every step in float32, clamped at 0.
            Span<float> cn = k <= 256 ? stackalloc float[k] : new float[k];
            for (int j = 0; j < k; j++) cn[j] = c[j] * c[j];
            for (int i = 0; i < x.Length; i++)
            {
                float xi = x[i], xn = xi * xi;
                float best = float.PositiveInfinity; int arg = 0;
                for (int j = 0; j < k; j++)
                {
                    float ip = xi * c[j];
                    float d = (xn + cn[j]) - 2f * ip;
                    if (d < 0) d = 0;
                    if (d < best) { best = d; arg = j; }
                }
                labels[i] = arg;
            }
        }
        else
        {
            // Sequential path for few queries: exact (x − c)².
            for (int i = 0; i < x.Length; i++)
            {
                float best = float.PositiveInfinity; int arg = 0;
                for (int j = 0; j < k; j++)
                {
                    float t = x[i] - c[j];
                    float d = t * t;
                    if (d < best) { best = d; arg = j; }
                }
                labels[i] = arg;
            }
        }
    }

    /// <summary>faiss <c>split_clusters</c>: each empty cluster takes half of a cluster chosen with probability ∝ its size − 1.</summary>
    private static void SplitEmptyClusters(float[] centroids, float[] hassign, int n)
    {
        int k = centroids.Length;
        const double eps = 1.0 / 1024;
        var rng = new Mt19937(1234); // a fresh generator at every call, as faiss does
        for (int ci = 0; ci < k; ci++)
        {
            if (hassign[ci] != 0) continue;
            int cj = 0;
            for (; ; cj = (cj + 1) % k)
            {
                float p = (float)((hassign[cj] - 1.0) / (float)(n - k));
                float r = rng.RandFloat();
                if (r < p) break;
            }
            centroids[ci] = (float)(centroids[cj] * (1 + eps));
            centroids[cj] = (float)(centroids[cj] * (1 - eps));
            hassign[ci] = hassign[cj] / 2;
            hassign[cj] -= hassign[ci];
        }
    }
}

namespace MLNetExtensions.Evaluators.Segmentation;

/// <summary>
/// Accumulates a confusion matrix over (prediction, ground truth) label-map pairs and computes
/// <see cref="SegmentationMetrics"/> exactly as mmsegmentation 0.30 (<c>intersect_and_union</c> summed over images,
/// then <c>total_area_to_metrics</c>).
/// </summary>
/// <remarks>
/// Per pair, as mmseg: the optional label map is applied to the ground truth, then <c>reduce_zero_label</c>
/// (0 → ignore, others − 1), then pixels whose ground truth equals the ignore index are dropped. Values outside
/// [0, K) that are not ignored count nowhere (mmseg's <c>torch.histc(..., min=0, max=K−1)</c> drops them) — a
/// prediction out of range still leaves its pixel in the ground-truth area. Counts are exact 64-bit integers (mmseg
/// sums float32 histograms, which round beyond 2²⁴ pixels per class). Not thread-safe; use one accumulator per
/// thread and <see cref="Merge"/>.
/// </remarks>
public sealed class SegmentationMetricsAccumulator
{
    private readonly long[] _matrix; // (K+1)×(K+1), rows = ground truth, columns = prediction, index K = out of range
    private readonly int _k;
    private readonly IReadOnlyDictionary<int, int>? _labelMap;

    /// <summary>Creates an empty accumulator.</summary>
    /// <param name="numClasses">Number of classes K (≥ 1).</param>
    /// <param name="ignoreIndex">Ground-truth value to ignore (mmseg default 255).</param>
    /// <param name="reduceZeroLabel">mmseg <c>reduce_zero_label</c> (ADE20K): ground truth 0 becomes ignored, others shift down by 1.</param>
    /// <param name="labelMap">Optional mmseg <c>label_map</c> (old id → new id) applied to the ground truth first.</param>
    public SegmentationMetricsAccumulator(int numClasses, int ignoreIndex = 255, bool reduceZeroLabel = false, IReadOnlyDictionary<int, int>? labelMap = null)
    {
        if (numClasses < 1) throw new ArgumentOutOfRangeException(nameof(numClasses), numClasses, "numClasses must be ≥ 1.");
        _k = numClasses;
        IgnoreIndex = ignoreIndex;
        ReduceZeroLabel = reduceZeroLabel;
        _labelMap = labelMap;
        _matrix = new long[(_k + 1) * (_k + 1)];
    }

    /// <summary>Number of classes K.</summary>
    public int NumClasses => _k;

    /// <summary>The ignored ground-truth value.</summary>
    public int IgnoreIndex { get; }

    /// <summary>Whether mmseg's <c>reduce_zero_label</c> is applied.</summary>
    public bool ReduceZeroLabel { get; }

    /// <summary>Number of (prediction, ground truth) pairs added.</summary>
    public int Count { get; private set; }

    /// <summary>Number of non-ignored ground-truth pixels seen.</summary>
    public long PixelCount { get; private set; }

    /// <summary>Adds one prediction / ground-truth pair of equal length (flattened label maps).</summary>
    public void Add(int[] prediction, int[] groundTruth)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(groundTruth);
        Add(prediction.AsSpan(), groundTruth.AsSpan());
    }

    /// <summary>Adds one prediction / ground-truth pair of equal length (flattened label maps).</summary>
    public void Add(ReadOnlySpan<int> prediction, ReadOnlySpan<int> groundTruth)
    {
        if (prediction.Length != groundTruth.Length)
            throw new ArgumentException(
                $"Prediction has {prediction.Length} pixels but the ground truth has {groundTruth.Length}; they must match.", nameof(prediction));
        int k1 = _k + 1;
        for (int i = 0; i < prediction.Length; i++)
        {
            int g = groundTruth[i];
            if (_labelMap != null && _labelMap.TryGetValue(g, out var mapped)) g = mapped;
            if (ReduceZeroLabel)
            {
                // mmseg: label[label == 0] = 255; label -= 1; label[label == 254] = 255.
                if (g == 0) g = 255;
                g -= 1;
                if (g == 254) g = 255;
            }
            if (g == IgnoreIndex) continue;
            int p = prediction[i];
            int row = (uint)g < (uint)_k ? g : _k;
            int col = (uint)p < (uint)_k ? p : _k;
            _matrix[row * k1 + col]++;
            PixelCount++;
        }
        Count++;
    }

    /// <summary>Adds every pair counted by another accumulator with the same settings.</summary>
    public void Merge(SegmentationMetricsAccumulator other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other._k != _k || other.IgnoreIndex != IgnoreIndex || other.ReduceZeroLabel != ReduceZeroLabel)
            throw new ArgumentException("Accumulators must have the same number of classes, ignore index and reduce_zero_label.", nameof(other));
        for (int i = 0; i < _matrix.Length; i++) _matrix[i] += other._matrix[i];
        Count += other.Count;
        PixelCount += other.PixelCount;
    }

    /// <summary>Clears all counts.</summary>
    public void Reset()
    {
        Array.Clear(_matrix);
        Count = 0;
        PixelCount = 0;
    }

    /// <summary>K×K confusion matrix (rows = ground-truth class, columns = predicted class) over in-range pixels.</summary>
    public long[,] ConfusionMatrix()
    {
        var m = new long[_k, _k];
        for (int g = 0; g < _k; g++)
            for (int p = 0; p < _k; p++) m[g, p] = _matrix[g * (_k + 1) + p];
        return m;
    }

    /// <summary>The metrics over everything added so far.</summary>
    public SegmentationMetrics Compute()
    {
        int k1 = _k + 1;
        var intersect = new long[_k];
        var pred = new long[_k];
        var label = new long[_k];
        for (int g = 0; g < k1; g++)
            for (int p = 0; p < k1; p++)
            {
                var n = _matrix[g * k1 + p];
                if (g < _k) label[g] += n;
                if (p < _k) pred[p] += n;
                if (g == p && g < _k) intersect[g] += n;
            }
        return SegmentationMetrics.FromAreas(intersect, pred, label);
    }
}

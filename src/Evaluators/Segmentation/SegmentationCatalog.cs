using System.ComponentModel;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Evaluators.Segmentation;

/// <summary>
/// <c>mlContext.Segmentation()</c>: semantic-segmentation trainers (added by extension methods, e.g.
/// <c>Trainers.Ssa(...)</c> in MLNetExtensions.Estimators) and the mmseg-style evaluator.
/// </summary>
public sealed class SegmentationCatalog
{
    internal SegmentationCatalog(MLContext mlContext)
    {
        Context = mlContext;
        Trainers = new SegmentationTrainers(mlContext);
    }

    /// <summary>The MLContext this catalog belongs to (for extension packages).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public MLContext Context { get; }

    /// <summary>Segmentation trainers (extension methods hang off this object).</summary>
    public SegmentationTrainers Trainers { get; }

    /// <summary>Holder of the segmentation trainer extension methods.</summary>
    public sealed class SegmentationTrainers
    {
        internal SegmentationTrainers(MLContext mlContext) => Context = mlContext;

        /// <summary>The MLContext this catalog belongs to (for extension packages).</summary>
        [EditorBrowsable(EditorBrowsableState.Never)]
        public MLContext Context { get; }
    }

    /// <summary>
    /// mmsegmentation metrics (aAcc, mIoU, mAcc, mDice, per-class IoU/Acc/Dice) of a predicted per-pixel class map
    /// against a ground-truth map, accumulated over all rows (areas summed over images, as mmseg).
    /// </summary>
    /// <param name="data">Scored data.</param>
    /// <param name="labelColumnName">Ground truth: a known-size Vector&lt;Key&gt; of H·W (key k = class k−1; a missing key 0 is ignored, like mmseg's 255).</param>
    /// <param name="predictedLabelColumnName">Prediction: a Vector&lt;Key&gt; of the same size and key count (a missing key counts as wrong).</param>
    public SegmentationMetrics Evaluate(IDataView data, string labelColumnName = "Mask", string predictedLabelColumnName = "PredictedLabel") =>
        SegmentationEvaluator.Evaluate(data, labelColumnName, predictedLabelColumnName);
}

/// <summary>Entry point of the segmentation catalog.</summary>
public static class SegmentationCatalogExtensions
{
    /// <summary>Segmentation trainers and evaluation for this MLContext.</summary>
    public static SegmentationCatalog Segmentation(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return new SegmentationCatalog(mlContext);
    }
}

/// <summary>Reads key-typed per-pixel maps from an <see cref="IDataView"/> into a <see cref="SegmentationMetricsAccumulator"/>.</summary>
public static class SegmentationEvaluator
{
    private const int IgnoreIndex = 255; // mmseg's ignore label; a missing ground-truth key maps to it

    /// <summary>See <see cref="SegmentationCatalog.Evaluate"/>.</summary>
    public static SegmentationMetrics Evaluate(IDataView data, string labelColumnName, string predictedLabelColumnName)
    {
        ArgumentNullException.ThrowIfNull(data);
        var (label, classes, size) = CheckMap(data.Schema, labelColumnName, "ground-truth");
        var (pred, predClasses, predSize) = CheckMap(data.Schema, predictedLabelColumnName, "predicted");
        if (predSize != size)
            throw new ArgumentException($"Column '{predictedLabelColumnName}' has {predSize} positions but the label column '{labelColumnName}' has {size}; they must be maps of the same size.", nameof(predictedLabelColumnName));
        if (predClasses != classes)
            throw new ArgumentException($"Column '{predictedLabelColumnName}' has {predClasses} classes but the label column '{labelColumnName}' has {classes}; they must use the same key type.", nameof(predictedLabelColumnName));

        var acc = new SegmentationMetricsAccumulator(classes);
        var gt = new int[size];
        var pr = new int[size];
        using var cursor = data.GetRowCursor(new[] { label, pred });
        var getLabel = cursor.GetGetter<VBuffer<uint>>(label);
        var getPred = cursor.GetGetter<VBuffer<uint>>(pred);
        VBuffer<uint> lb = default, pb = default;
        while (cursor.MoveNext())
        {
            getLabel(ref lb);
            getPred(ref pb);
            Fill(lb, gt, IgnoreIndex);
            Fill(pb, pr, classes); // out of range: counted in the label's area only (a wrong prediction)
            acc.Add(pr, gt);
        }
        if (acc.Count == 0) throw new ArgumentException("The data has no rows to evaluate.", nameof(data));
        return acc.Compute();
    }

    private static void Fill(in VBuffer<uint> src, int[] dst, int missing)
    {
        Array.Fill(dst, missing);
        // Sparse buffers hold only non-zero keys; implicit zeros are missing keys.
        var idx = src.GetIndices();
        var vals = src.GetValues();
        for (int i = 0; i < vals.Length; i++)
        {
            int at = src.IsDense ? i : idx[i];
            dst[at] = vals[i] == 0 ? missing : (int)vals[i] - 1;
        }
    }

    private static (DataViewSchema.Column Column, int Classes, int Size) CheckMap(DataViewSchema schema, string name, string role)
    {
        ArgumentNullException.ThrowIfNull(name);
        var col = schema.GetColumnOrNull(name)
            ?? throw new ArgumentOutOfRangeException(nameof(name), $"The {role} column '{name}' was not found; expected a Vector<Key> of H·W positions.");
        if (col.Type is not VectorDataViewType { ItemType: KeyDataViewType key } vec || !vec.IsKnownSize)
            throw new ArgumentOutOfRangeException(nameof(name), $"The {role} column '{name}' has type {col.Type}; expected a known-size Vector<Key> of H·W positions (e.g. a segmentation mask).");
        if (key.Count < 1 || key.Count > IgnoreIndex)
            throw new ArgumentOutOfRangeException(nameof(name), $"The {role} column '{name}' has {key.Count} classes; 1–{IgnoreIndex} are supported.");
        if (key.RawType != typeof(uint))
            throw new ArgumentOutOfRangeException(nameof(name), $"The {role} column '{name}' has keys of {key.RawType.Name}; expected UInt32 keys.");
        return (col, (int)key.Count, vec.Size);
    }
}

using MLNetExtensions.Core.Data;
using MLNetExtensions.Evaluators.Segmentation;
using MLNetExtensions.Transforms.Segmentation;
using MLNetExtensions.Transforms.Ssa;

namespace MLNetExtensions.Estimators.Segmentation;

/// <summary><c>mlContext.Segmentation().Trainers.Ssa(...)</c>.</summary>
public static class SsaSegmenterCatalog
{
    /// <summary>Creates an <see cref="SsaSegmenter"/> from full options.</summary>
    public static SsaSegmenter Ssa(this SegmentationCatalog.SegmentationTrainers catalog, SsaSegmenter.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new SsaSegmenter(catalog.Context, options);
    }

    /// <summary>Creates an <see cref="SsaSegmenter"/> with the most used settings.</summary>
    /// <param name="catalog">The segmentation trainers catalog.</param>
    /// <param name="labelColumnName">Per-pixel label map: Vector&lt;Key&gt; of H·W.</param>
    /// <param name="imageColumnName">Image column: sized MLImage or Vector&lt;Single&gt; C×H×W (H, W multiples of 32).</param>
    /// <param name="head">SSA or plain classifier.</param>
    /// <param name="maxEpochs">Passes over the data.</param>
    /// <param name="batchSize">Rows per step.</param>
    /// <param name="learningRate">Peak AdamW learning rate of the backbone; null = the Options default (the decode head trains at ×HeadLearningRateMultiplier).</param>
    public static SsaSegmenter Ssa(this SegmentationCatalog.SegmentationTrainers catalog, string labelColumnName = ColumnNames.Mask,
        string imageColumnName = ColumnNames.Image, SegmentationHeadKind head = SegmentationHeadKind.Ssa, int maxEpochs = 10, int batchSize = 16,
        double? learningRate = null)
    {
        // One default: the simple overload takes the Options' learning rate unless told otherwise.
        var o = new SsaSegmenter.Options { LabelColumnName = labelColumnName, ImageColumnName = imageColumnName, Head = head, MaxEpochs = maxEpochs, BatchSize = batchSize };
        if (learningRate is double lr) o.LearningRate = lr;
        return catalog.Ssa(o);
    }
}

using Microsoft.ML;
using MLNetExtensions.Core.Interop;
using MLNetExtensions.Transforms.Slab;

namespace MLNetExtensions.Estimators.Slab;

/// <summary><c>mlContext.MulticlassClassification.Trainers.Slab(...)</c>.</summary>
public static class SlabCatalog
{
    /// <summary>Creates a <see cref="SlabClassifier"/> from full options.</summary>
    public static SlabClassifier Slab(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, SlabClassifier.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new SlabClassifier(MLNetInternals.GetEnvironment(catalog), options);
    }

    /// <summary>Creates a <see cref="SlabClassifier"/> with the most used settings.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="labelColumnName">Key-typed label column.</param>
    /// <param name="imageColumnName">Image column: square sized MLImage or Vector&lt;Single&gt; C×H×W.</param>
    /// <param name="family">DeiT or Swin.</param>
    /// <param name="variant">Official name, or <c>micro</c>/<c>nano</c> for CPU work.</param>
    /// <param name="norm">LayerNorm, BatchNorm, RepBN or PRepBN.</param>
    /// <param name="attention">Sla or Softmax; null = the variant's own.</param>
    /// <param name="maxEpochs">Passes over the data.</param>
    /// <param name="batchSize">Rows per step.</param>
    /// <param name="learningRate">Peak AdamW learning rate (cosine schedule).</param>
    public static SlabClassifier Slab(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label", string imageColumnName = "Image", SlabFamily family = SlabFamily.DeiT, string variant = "micro",
        TokenNormKind norm = TokenNormKind.PRepBN, AttentionKind? attention = null,
        int maxEpochs = 3, int batchSize = 64, double learningRate = 2e-3) =>
        catalog.Slab(new SlabClassifier.Options
        {
            LabelColumnName = labelColumnName, ImageColumnName = imageColumnName, Family = family, Variant = variant,
            Norm = norm, Attention = attention, MaxEpochs = maxEpochs, BatchSize = batchSize, LearningRate = learningRate,
        });
}

using Microsoft.ML;
using MLNetExtensions.Core.Interop;

namespace MLNetExtensions.Estimators.TinyViM;

/// <summary><c>mlContext.MulticlassClassification.Trainers.TinyViM(...)</c>.</summary>
public static class TinyViMCatalog
{
    /// <summary>Creates a <see cref="TinyViMClassifier"/> from full options.</summary>
    public static TinyViMClassifier TinyViM(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, TinyViMClassifier.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new TinyViMClassifier(MLNetInternals.GetEnvironment(catalog), options);
    }

    /// <summary>Creates a <see cref="TinyViMClassifier"/> with the most used settings.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="labelColumnName">Key-typed label column.</param>
    /// <param name="imageColumnName">Image column: sized MLImage or Vector&lt;Single&gt; C×H×W (H, W multiples of 32).</param>
    /// <param name="variant">S, B, L (official) or Tiny, Micro.</param>
    /// <param name="maxEpochs">Passes over the data.</param>
    /// <param name="batchSize">Rows per step.</param>
    /// <param name="learningRate">Peak AdamW learning rate (cosine schedule).</param>
    public static TinyViMClassifier TinyViM(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label", string imageColumnName = "Image", string variant = "Tiny",
        int maxEpochs = 3, int batchSize = 64, double learningRate = 2e-3) =>
        catalog.TinyViM(new TinyViMClassifier.Options
        {
            LabelColumnName = labelColumnName, ImageColumnName = imageColumnName, Variant = variant,
            MaxEpochs = maxEpochs, BatchSize = batchSize, LearningRate = learningRate,
        });
}

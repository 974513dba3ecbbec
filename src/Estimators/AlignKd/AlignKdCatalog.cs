using Microsoft.ML;
using MLNetExtensions.Core.Interop;
using MLNetExtensions.Transforms.VisionLanguage;

namespace MLNetExtensions.Estimators.AlignKd;

/// <summary><c>mlContext.MulticlassClassification.Trainers.AlignKd(...)</c>.</summary>
public static class AlignKdCatalog
{
    /// <summary>Creates an <see cref="AlignKdDistiller"/> from full options.</summary>
    public static AlignKdDistiller AlignKd(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, AlignKdDistiller.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new AlignKdDistiller(MLNetInternals.GetEnvironment(catalog), options);
    }

    /// <summary>Creates an <see cref="AlignKdDistiller"/> (full Align-KD objective) with the most used settings.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="teacher">The fitted teacher VLM.</param>
    /// <param name="answerColumnName">Answer text column (the label).</param>
    /// <param name="maxEpochs">Passes over the data.</param>
    /// <param name="batchSize">Rows per step.</param>
    /// <param name="learningRate">Peak AdamW learning rate (cosine schedule).</param>
    public static AlignKdDistiller AlignKd(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, VisionLanguageTransformer teacher,
        string answerColumnName = "Answer", int maxEpochs = 3, int batchSize = 64, double learningRate = 2e-3) =>
        catalog.AlignKd(new AlignKdDistiller.Options { Teacher = teacher, LabelColumnName = answerColumnName, MaxEpochs = maxEpochs, BatchSize = batchSize, LearningRate = learningRate });
}

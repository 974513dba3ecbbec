using Microsoft.ML;
using MLNetExtensions.Core.Interop;

namespace MLNetExtensions.Estimators.VisionLanguage;

/// <summary><c>mlContext.MulticlassClassification.Trainers.VisionLanguage(...)</c> (the answer is a token sequence
/// over the model's vocabulary; ML.NET has no generative catalog).</summary>
public static class VisionLanguageCatalog
{
    /// <summary>Creates a <see cref="VisionLanguageTrainer"/> from full options.</summary>
    public static VisionLanguageTrainer VisionLanguage(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, VisionLanguageTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new VisionLanguageTrainer(MLNetInternals.GetEnvironment(catalog), options);
    }

    /// <summary>Creates a <see cref="VisionLanguageTrainer"/> with the most used settings.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="answerColumnName">Answer text column (the label).</param>
    /// <param name="imageColumnName">Scene column, Vector&lt;Single, 1, 56, 56&gt;.</param>
    /// <param name="questionColumnName">Question text column.</param>
    /// <param name="maxEpochs">Passes over the data.</param>
    /// <param name="batchSize">Rows per step.</param>
    /// <param name="learningRate">Peak AdamW learning rate (cosine schedule).</param>
    public static VisionLanguageTrainer VisionLanguage(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string answerColumnName = "Answer", string imageColumnName = "Image", string questionColumnName = "Question",
        int maxEpochs = 3, int batchSize = 64, double learningRate = 2e-3) =>
        catalog.VisionLanguage(new VisionLanguageTrainer.Options
        {
            LabelColumnName = answerColumnName, ImageColumnName = imageColumnName, QuestionColumnName = questionColumnName,
            MaxEpochs = maxEpochs, BatchSize = batchSize, LearningRate = learningRate,
        });
}

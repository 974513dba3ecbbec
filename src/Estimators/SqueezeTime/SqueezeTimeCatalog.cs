using Microsoft.ML;
using MLNetExtensions.Core.Interop;

namespace MLNetExtensions.Estimators.SqueezeTime;

/// <summary><c>mlContext.MulticlassClassification.Trainers.SqueezeTime(...)</c>.</summary>
public static class SqueezeTimeCatalog
{
    /// <summary>Creates a <see cref="SqueezeTimeVideoClassifier"/> from full options.</summary>
    public static SqueezeTimeVideoClassifier SqueezeTime(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, SqueezeTimeVideoClassifier.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new SqueezeTimeVideoClassifier(MLNetInternals.GetEnvironment(catalog), options);
    }
}

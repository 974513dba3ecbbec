using Microsoft.ML;
using MLNetExtensions.Core.Data;
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

    /// <summary>Creates a <see cref="SqueezeTimeVideoClassifier"/> with the most used settings.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="labelColumnName">Key label.</param>
    /// <param name="videoColumnName">Clip column: Vector&lt;Single&gt; of T×C×H×W values in [0,1] (4-D type, or set the frame size in Options).</param>
    /// <param name="frames">Frames per clip T (the Tiny config's). Default 8.</param>
    /// <param name="maxEpochs">Passes over the data.</param>
    /// <param name="batchSize">Clips per step.</param>
    /// <param name="learningRate">Peak AdamW learning rate; null = the Options default.</param>
    public static SqueezeTimeVideoClassifier SqueezeTime(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = ColumnNames.Label, string videoColumnName = ColumnNames.Video, int frames = 8, int maxEpochs = 3, int batchSize = 64,
        double? learningRate = null)
    {
        var o = new SqueezeTimeVideoClassifier.Options
        {
            LabelColumnName = labelColumnName, VideoColumnName = videoColumnName, Config = Transforms.SqueezeTime.SqueezeTimeConfig.Tiny(frames: frames),
            MaxEpochs = maxEpochs, BatchSize = batchSize,
        };
        if (learningRate is double lr) o.LearningRate = lr;
        return catalog.SqueezeTime(o);
    }
}

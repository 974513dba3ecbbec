using System.ComponentModel;
using Microsoft.ML;

namespace MLNetExtensions.Evaluators.TemporalLocalization;

/// <summary><c>mlContext.TemporalLocalization()</c>: temporal action localisation evaluation (ActivityNet detection mAP).</summary>
public sealed class TemporalLocalizationCatalog
{
    internal TemporalLocalizationCatalog(MLContext mlContext)
    {
        Context = mlContext;
        Trainers = new TemporalLocalizationTrainers(mlContext);
        Transforms = new TemporalLocalizationTransforms(mlContext);
    }

    /// <summary>Transforms (extension methods in MLNetExtensions.Estimators, e.g. <c>Transforms.SelectPseudoLabels(...)</c>).</summary>
    public TemporalLocalizationTransforms Transforms { get; }

    /// <summary>Anchor for the temporal localisation transforms' extension methods.</summary>
    public sealed class TemporalLocalizationTransforms
    {
        internal TemporalLocalizationTransforms(MLContext mlContext) => Context = mlContext;

        /// <summary>The MLContext (for extension packages).</summary>
        [EditorBrowsable(EditorBrowsableState.Never)]
        public MLContext Context { get; }
    }

    /// <summary>Trainers (extension methods in MLNetExtensions.Estimators, e.g. <c>Trainers.FustalTeacher(...)</c>).</summary>
    public TemporalLocalizationTrainers Trainers { get; }

    /// <summary>Anchor for the temporal localisation trainers' extension methods.</summary>
    public sealed class TemporalLocalizationTrainers
    {
        internal TemporalLocalizationTrainers(MLContext mlContext) => Context = mlContext;

        /// <summary>The MLContext (for extension packages).</summary>
        [EditorBrowsable(EditorBrowsableState.Never)]
        public MLContext Context { get; }
    }

    /// <summary>The MLContext this catalog belongs to (for extension packages).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public MLContext Context { get; }

    /// <summary>
    /// ActivityNet detection mAP of per-video rows: a text video id, predicted segments as parallel vectors (starts,
    /// ends, class keys, scores) and ground-truth segments in the same layout (column names in <paramref name="options"/>).
    /// </summary>
    public TemporalDetectionMetrics Evaluate(IDataView data, TemporalDetectionEvaluatorOptions? options = null)
    {
        options ??= new TemporalDetectionEvaluatorOptions();
        var (gt, pred) = SegmentColumnsReader.Read(data, options);
        return TemporalDetectionEvaluator.Evaluate(gt, pred, options);
    }

    /// <summary>ActivityNet detection mAP of segment records (see <see cref="TemporalDetectionEvaluator"/>).</summary>
    public TemporalDetectionMetrics Evaluate(IEnumerable<GroundTruthSegment> groundTruth, IEnumerable<PredictedSegment> predictions,
        TemporalDetectionEvaluatorOptions? options = null) =>
        TemporalDetectionEvaluator.Evaluate(groundTruth, predictions, options);
}

/// <summary>Entry point of the temporal localisation catalog.</summary>
public static class TemporalLocalizationCatalogExtensions
{
    /// <summary>Temporal action localisation evaluation for this MLContext.</summary>
    public static TemporalLocalizationCatalog TemporalLocalization(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return new TemporalLocalizationCatalog(mlContext);
    }
}

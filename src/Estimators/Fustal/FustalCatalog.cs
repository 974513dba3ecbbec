using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Evaluators.TemporalLocalization;
using MLNetExtensions.Transforms.Fustal;

namespace MLNetExtensions.Estimators.Fustal;

/// <summary><c>mlContext.TemporalLocalization().Trainers.FustalTeacher(...)</c> and the other FuSTAL stages.</summary>
public static class FustalCatalog
{
    /// <summary>Creates a <see cref="T:MLNetExtensions.Estimators.Fustal.FustalTeacher"/> from full options.</summary>
    public static FustalTeacher FustalTeacher(this TemporalLocalizationCatalog.TemporalLocalizationTrainers catalog, FustalTeacher.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new FustalTeacher(catalog.Context, options);
    }

    /// <summary>Creates a <see cref="T:MLNetExtensions.Estimators.Fustal.FustalTeacher"/> with the most used settings.</summary>
    /// <param name="catalog">The temporal localisation trainers catalog.</param>
    /// <param name="featureSize">Snippet feature size D.</param>
    /// <param name="labelColumnName">Multi-hot video labels.</param>
    /// <param name="featureColumnName">Snippet features, Vector&lt;Single&gt; of T×D.</param>
    /// <param name="sampledLength">T the videos are resampled to (official 750).</param>
    /// <param name="maxEpochs">Passes over the data.</param>
    /// <param name="batchSize">Videos per step (same-label pairs inside a batch feed the cross-video contrast).</param>
    /// <param name="learningRate">Learning rate; null = the Options default (1e-4).</param>
    public static FustalTeacher FustalTeacher(this TemporalLocalizationCatalog.TemporalLocalizationTrainers catalog, int featureSize,
        string labelColumnName = ColumnNames.Label, string featureColumnName = ColumnNames.Features, int sampledLength = 750,
        int maxEpochs = 20, int batchSize = 16, double? learningRate = null)
    {
        var o = new FustalTeacher.Options
        {
            FeatureSize = featureSize, LabelColumnName = labelColumnName, FeatureColumnName = featureColumnName,
            SampledLength = sampledLength, MaxEpochs = maxEpochs, BatchSize = batchSize,
        };
        if (learningRate is double lr) o.LearningRate = lr;
        return catalog.FustalTeacher(o);
    }

    /// <summary>FuSTAL's prior-based pseudo-label selection (note §4) over the teacher's proposal columns.</summary>
    /// <param name="catalog">The temporal localisation transforms catalog.</param>
    /// <param name="gamma">γ: keep proposals whose density d_i = Σ_j IoU_ij (all classes of the video pooled) is ≥ γ.</param>
    /// <param name="eta">η: … and whose score is &gt; η.</param>
    /// <param name="outputPrefix">Output columns <c>{prefix}Start/End/Score/Label/Density</c>.</param>
    public static PseudoLabelSelectionEstimator SelectPseudoLabels(this TemporalLocalizationCatalog.TemporalLocalizationTransforms catalog,
        double gamma = 0.2, double eta = 0.4, string outputPrefix = "Pseudo") =>
        catalog.SelectPseudoLabels(new PseudoLabelSelectionOptions { Gamma = gamma, Eta = eta, OutputPrefix = outputPrefix });

    /// <summary>FuSTAL's pseudo-label selection with full options (column names).</summary>
    public static PseudoLabelSelectionEstimator SelectPseudoLabels(this TemporalLocalizationCatalog.TemporalLocalizationTransforms catalog, PseudoLabelSelectionOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new PseudoLabelSelectionEstimator(catalog.Context, options);
    }

    /// <summary>
    /// Loads per-video snippet features (NumPy <c>.npy</c> files of shape T×<paramref name="featureSize"/>, e.g. I3D
    /// features) named in <paramref name="inputColumnName"/> into a variable-length feature-sequence column.
    /// </summary>
    /// <param name="catalog">The temporal localisation transforms catalog.</param>
    /// <param name="featureSize">D, values per snippet every file must have.</param>
    /// <param name="outputColumnName">Feature-sequence column added (Vector&lt;Single&gt; of T·D values).</param>
    /// <param name="inputColumnName">Text column of .npy paths.</param>
    /// <param name="folder">Folder relative paths resolve against; null = the current directory.</param>
    public static SnippetFeatureFilesEstimator LoadSnippetFeatures(this TemporalLocalizationCatalog.TemporalLocalizationTransforms catalog,
        int featureSize, string outputColumnName = "Features", string inputColumnName = "FeaturePath", string? folder = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new SnippetFeatureFilesEstimator(catalog.Context, new SnippetFeatureFilesColumn(outputColumnName, inputColumnName, featureSize, folder));
    }

    /// <summary>
    /// Snippet features from video frames: cuts the frames column (a Vector&lt;Single&gt; of N×3×H×W values, from
    /// <c>mlContext.Transforms.LoadVideoFrames(..., frames: 0, H, W)</c>) into snippets of the backbone's clip length and
    /// maps each to the frozen SqueezeTime backbone's spatially pooled feature vector (F values) → Vector&lt;Single&gt; of T'·F.
    /// </summary>
    /// <param name="catalog">The temporal localisation transforms catalog.</param>
    /// <param name="backbone">A trained SqueezeTime video classifier (<c>MulticlassClassification.Trainers.SqueezeTime</c>); its weights are copied, its head is not used.</param>
    /// <param name="outputColumnName">Feature-sequence column added.</param>
    /// <param name="inputColumnName">Frames column.</param>
    /// <param name="snippetStride">Frames between snippet starts; null = the backbone's clip length (non-overlapping).</param>
    public static SnippetFeaturizerEstimator FeaturizeSnippets(this TemporalLocalizationCatalog.TemporalLocalizationTransforms catalog,
        TorchImageClassificationTransformer backbone, string outputColumnName = ColumnNames.Features, string inputColumnName = "Frames", int? snippetStride = null) =>
        catalog.FeaturizeSnippets(backbone, new SnippetFeaturizerOptions { OutputColumnName = outputColumnName, InputColumnName = inputColumnName, SnippetStride = snippetStride });

    /// <summary>Snippet features from video frames with full options (see the simple overload).</summary>
    public static SnippetFeaturizerEstimator FeaturizeSnippets(this TemporalLocalizationCatalog.TemporalLocalizationTransforms catalog,
        TorchImageClassificationTransformer backbone, SnippetFeaturizerOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(backbone);
        return new SnippetFeaturizerEstimator(catalog.Context, options, backbone.Network);
    }

    /// <summary>Creates a <see cref="T:MLNetExtensions.Estimators.Fustal.FustalStudent"/> from full options.</summary>
    public static FustalStudent FustalStudent(this TemporalLocalizationCatalog.TemporalLocalizationTrainers catalog, FustalStudent.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new FustalStudent(catalog.Context, options);
    }

    /// <summary>Creates a <see cref="T:MLNetExtensions.Estimators.Fustal.FustalStudent"/> with the most used settings (targets from the selection's <c>Pseudo*</c> columns).</summary>
    /// <param name="catalog">The temporal localisation trainers catalog.</param>
    /// <param name="featureSize">Feature size D.</param>
    /// <param name="grid">Seconds ↔ feature grid; null = ActionFormer's THUMOS features at 30 fps.</param>
    /// <param name="featureColumnName">Features, Vector&lt;Single&gt; of T×D.</param>
    /// <param name="maxEpochs">Passes over the data.</param>
    /// <param name="emaSwitchEpoch">First epoch trained on the EMA model's predictions (≥ maxEpochs = never).</param>
    /// <param name="batchSize">Videos per step.</param>
    /// <param name="learningRate">Learning rate; null = the Options default (1e-4).</param>
    public static FustalStudent FustalStudent(this TemporalLocalizationCatalog.TemporalLocalizationTrainers catalog, int featureSize,
        StudentGridSpec? grid = null, string featureColumnName = ColumnNames.Features, int maxEpochs = 100, int emaSwitchEpoch = 60, int batchSize = 8,
        double? learningRate = null)
    {
        var o = new FustalStudent.Options
        {
            FeatureSize = featureSize, Grid = grid ?? new StudentGridSpec(), FeatureColumnName = featureColumnName,
            MaxEpochs = maxEpochs, EmaSwitchEpoch = emaSwitchEpoch, BatchSize = batchSize,
        };
        if (learningRate is double lr) o.LearningRate = lr;
        return catalog.FustalStudent(o);
    }
}

using Microsoft.ML;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Core.Models;
using MLNetExtensions.Transforms.Segmentation;
using MLNetExtensions.Transforms.Video;
using MLNetExtensions.Transforms.Ssa;
using MLNetExtensions.Transforms.GeminiFusion;

namespace MLNetExtensions;

/// <summary>The one call a service makes before <c>mlContext.Model.Load</c>.</summary>
public static class MLNetExtensionsRegistration
{
    /// <summary>
    /// Registers this suite's transformers with <paramref name="mlContext"/>'s component catalog (so
    /// <c>mlContext.Model.Load</c> can recreate them); the model families register themselves when this assembly loads
    /// (<see cref="ModelFamilies"/>). Idempotent; call once per MLContext before loading a model.
    /// </summary>
    public static MLContext RegisterMLNetExtensions(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        TorchImageClassificationTransformer.RegisterLoader(mlContext.ComponentCatalog);
        SsaSegmentationTransformer.RegisterLoader(mlContext.ComponentCatalog);
        GeminiFusionTransformer.RegisterLoader(mlContext.ComponentCatalog);
        Transforms.Excp.ExcpCheckpointTransformer.RegisterLoader(mlContext.ComponentCatalog);
        VideoFramesTransformer.RegisterLoader(mlContext.ComponentCatalog);
        Transforms.Rlhf.RewardModels.TextRewardModelTransformer.RegisterLoader(mlContext.ComponentCatalog);
        Transforms.VisionLanguage.VisionLanguageTransformer.RegisterLoader(mlContext.ComponentCatalog);
        Transforms.Fustal.FustalTeacherTransformer.RegisterLoader(mlContext.ComponentCatalog);
        Transforms.Fustal.PseudoLabelSelectionTransformer.RegisterLoader(mlContext.ComponentCatalog);
        Transforms.Fustal.SnippetFeatureFilesTransformer.RegisterLoader(mlContext.ComponentCatalog);
        Transforms.Fustal.SnippetFeaturizerTransformer.RegisterLoader(mlContext.ComponentCatalog);
        Transforms.Fustal.FustalStudentTransformer.RegisterLoader(mlContext.ComponentCatalog);
        return mlContext;
    }
}

using Microsoft.ML;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Transforms.Segmentation;
using MLNetExtensions.Transforms.Video;

namespace MLNetExtensions;

/// <summary>The one call a service makes before <c>mlContext.Model.Load</c>.</summary>
public static class MLNetExtensionsRegistration
{
    private static readonly object Gate = new();
    private static bool _familiesRegistered;

    /// <summary>
    /// Registers this suite's transformers with <paramref name="mlContext"/>'s component catalog (so
    /// <c>mlContext.Model.Load</c> can recreate them) and its model families with <see cref="TorchModelRegistry"/>.
    /// Idempotent; call once per MLContext before loading a model.
    /// </summary>
    public static MLContext RegisterMLNetExtensions(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        EnsureModelFamilies();
        TorchImageClassificationTransformer.RegisterLoader(mlContext.ComponentCatalog);
        SsaSegmentationTransformer.RegisterLoader(mlContext.ComponentCatalog);
        Core.Checkpoints.ExcpCheckpointTransformer.RegisterLoader(mlContext.ComponentCatalog);
        VideoFramesTransformer.RegisterLoader(mlContext.ComponentCatalog);
        return mlContext;
    }

    /// <summary>Registers the architecture factories of every model family (idempotent).</summary>
    internal static void EnsureModelFamilies()
    {
        lock (Gate)
        {
            if (_familiesRegistered) return;
            foreach (var register in ModelFamilies.All) register();
            _familiesRegistered = true;
        }
    }
}

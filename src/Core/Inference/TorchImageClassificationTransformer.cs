using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Interop;
using MLNetExtensions.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Inference;

/// <summary>
/// A fitted TorchSharp classifier (images, or clips for the video classifiers): <c>Score</c> (class probabilities, with
/// the annotations ML.NET's multiclass evaluator and <c>MapKeyToValue</c> use) and <c>PredictedLabel</c> (key with the
/// training label's values). Serves any registered single-tensor architecture; round-trips through
/// <c>mlContext.Model.Save/Load</c> with weights (safetensors, SHA-256 checked) inside the zip; reads version-1 zips.
/// </summary>
public class TorchImageClassificationTransformer : TorchTransformerBase
{
    internal const string LoaderSignature = "MLNetExtTorchImageClf";
    private static readonly MLNetInternals.ModelVersion Version = new("MLXTIMGC", 0x00020001, 0x00020001, 0x00010001, LoaderSignature);

    /// <summary>Wraps a trained network (takes ownership; it is disposed with the transformer).</summary>
    public TorchImageClassificationTransformer(IHostEnvironment env, ModelDescription description, TorchNetwork network, Device device)
        : base(env, nameof(TorchImageClassificationTransformer), description, network, device)
    {
    }

    /// <summary>Wraps a trained single-tensor network.</summary>
    public TorchImageClassificationTransformer(IHostEnvironment env, ModelDescription description, nn.Module<Tensor, Tensor> network, Device device)
        : this(env, description, TorchNetwork.Single(network), device)
    {
    }

    /// <summary>The network (eval mode): normalised input → logits.</summary>
    public nn.Module<Tensor, Tensor> Network => TorchNetwork.AsSingle();

    private protected override MLNetInternals.ModelVersion PersistenceVersion => Version;

    /// <summary>ML.NET's loader entry (<c>SignatureLoadModel</c>); <paramref name="ctx"/> is its ModelLoadContext.</summary>
    private static TorchImageClassificationTransformer Create(IHostEnvironment env, object ctx)
    {
        var l = LoadAnyVersion<ImageClassifierDescription>(env, ctx, Version, typeof(TorchImageClassificationTransformer), v1 => v1.ToModelDescription());
        return new TorchImageClassificationTransformer(env, l.Description, l.Network, l.Device);
    }

    internal static void RegisterLoader(ComponentCatalog catalog) =>
        RegisterLoader(catalog, typeof(TorchImageClassificationTransformer), LoaderSignature);
}

using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Interop;
using MLNetExtensions.Core.IO;
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
        var load = MLNetInternals.OpenLoad(ctx, Version, typeof(TorchImageClassificationTransformer));
        var json = load.Reader.ReadString();
        if (load.VersionWritten >= 0x00020001)
        {
            var l = LoadV2(env, load, typeof(TorchImageClassificationTransformer), json);
            return new TorchImageClassificationTransformer(env, l.Description, l.Network, l.Device);
        }
        // Version 1: the image-classifier record and unchecked weights.
        var v1 = JsonSerializer.Deserialize<ImageClassifierDescription>(json)
            ?? throw new InvalidDataException("The TorchImageClassificationTransformer model's description is empty.");
        var weights = load.ReadStream(WeightsStream, r => SafeTensors.Read(r.BaseStream));
        var net = Rebuild(env, v1.Architecture, v1.ConfigJson, v1.NumClasses, weights, "model zip");
        return new TorchImageClassificationTransformer(env, v1.ToModelDescription(), net, DeviceOf(env));
    }

    internal static void RegisterLoader(ComponentCatalog catalog) =>
        RegisterLoader(catalog, typeof(TorchImageClassificationTransformer), LoaderSignature);
}

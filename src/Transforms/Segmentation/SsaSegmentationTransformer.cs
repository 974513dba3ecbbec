using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Core.Interop;
using MLNetExtensions.Core.IO;
using MLNetExtensions.Core.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Segmentation;

/// <summary>What a fitted segmenter needs to rebuild itself: architecture, input geometry, classes, normalisation, columns.</summary>
/// <param name="Architecture">Registry name of the network.</param>
/// <param name="ConfigJson">Network configuration.</param>
/// <param name="NumClasses">Classes K.</param>
/// <param name="InputColumn">Image column (MLImage or Vector&lt;Single&gt; C×H×W).</param>
/// <param name="Height">Image height (the model's output map has H·W positions).</param>
/// <param name="Width">Image width.</param>
/// <param name="InputIsVector">True for a float-vector image column.</param>
/// <param name="SourceChannels">Channels of a vector column (1 or 3).</param>
/// <param name="ClassNames">Key values of the predicted map (the training label's key values).</param>
/// <param name="Mean">Per-channel mean subtracted from [0,1] pixels.</param>
/// <param name="Std">Per-channel standard deviation.</param>
/// <param name="ScoreColumn">Output per-pixel probabilities column.</param>
/// <param name="PredictedLabelColumn">Output per-pixel class map column.</param>
public sealed record SegmentationModelDescription(
    string Architecture, string ConfigJson, int NumClasses, string InputColumn, int Height, int Width,
    bool InputIsVector, int SourceChannels, string[] ClassNames, float[] Mean, float[] Std,
    string ScoreColumn = "Score", string PredictedLabelColumn = "PredictedLabel") : IImageNetworkDescription
{
    /// <summary>The network always sees RGB (grey vector columns are repeated).</summary>
    int IImageNetworkDescription.Channels => 3;
}

/// <summary>
/// A fitted semantic segmenter. Adds <c>PredictedLabel</c> (Vector&lt;Key&lt;K&gt;, H·W&gt;, row-major, key values = class
/// names, so it compares directly with a key-typed mask column) and <c>Score</c> (Vector&lt;Single, K, H, W&gt;,
/// per-pixel class probabilities). Batched <c>Transform</c>, <c>PredictionEngine</c>, and
/// <c>mlContext.Model.Save/Load</c> (after <c>mlContext.RegisterMLNetExtensions()</c>) come from <see cref="TorchTransformerBase"/>.
/// </summary>
public sealed class SsaSegmentationTransformer : TorchImageNetworkTransformer<SegmentationModelDescription>
{
    internal const string LoaderSignature = "MLNetExtSegmentation";
    private static readonly MLNetInternals.ModelVersion Version = new("MLXTSEGM", 0x00010001, 0x00010001, 0x00010001, LoaderSignature);

    private readonly TorchOutputColumn[] _outputs;

    /// <summary>Wraps a trained network (takes ownership; it is disposed with the transformer).</summary>
    public SsaSegmentationTransformer(IHostEnvironment env, SegmentationModelDescription description, nn.Module<Tensor, Tensor> network,
        Device device, int inferenceBatchSize = 64)
        : base(env, nameof(SsaSegmentationTransformer), Version, description, network, device, inferenceBatchSize)
    {
        if (description.ClassNames.Length != description.NumClasses) throw new ArgumentException("ClassNames must have NumClasses entries.", nameof(description));
        _outputs = BuildOutputs(description);
    }

    protected override IReadOnlyList<TorchOutputColumn> OutputColumns => _outputs;

    /// <summary>Per-pixel probabilities (B, K·H·W) for a batch of raw [0,1] images.</summary>
    protected override Tensor Forward(Tensor batch) => Logits(batch).softmax(1).reshape(batch.shape[0], -1);

    private static TorchOutputColumn[] BuildOutputs(SegmentationModelDescription d)
    {
        var names = new VBuffer<ReadOnlyMemory<char>>(d.NumClasses, d.ClassNames.Select(n => n.AsMemory()).ToArray());
        var textVec = new VectorDataViewType(TextDataViewType.Instance, d.NumClasses);
        var pred = new DataViewSchema.Annotations.Builder();
        pred.Add(ColumnNames.KeyValues, textVec, (ref VBuffer<ReadOnlyMemory<char>> v) => names.CopyTo(ref v));
        return new[]
        {
            new TorchOutputColumn(d.ScoreColumn, OutputKind.Scores, new VectorDataViewType(NumberDataViewType.Single, d.NumClasses, d.Height, d.Width),
                DataViewSchema.Annotations.Empty),
            new TorchOutputColumn(d.PredictedLabelColumn, OutputKind.ArgmaxKeyMap,
                new VectorDataViewType(new KeyDataViewType(typeof(uint), d.NumClasses), d.Height * d.Width), pred.ToAnnotations(), d.NumClasses),
        };
    }

    /// <summary>ML.NET's loader entry (<c>SignatureLoadModel</c>); <paramref name="ctx"/> is its ModelLoadContext.</summary>
    private static SsaSegmentationTransformer Create(IHostEnvironment env, object ctx)
    {
        var (d, network, device) = Load(env, ctx, Version, typeof(SsaSegmentationTransformer));
        return new SsaSegmentationTransformer(env, d, network, device);
    }

    internal static void RegisterLoader(ComponentCatalog catalog) =>
        RegisterLoader(catalog, typeof(SsaSegmentationTransformer), LoaderSignature);
}

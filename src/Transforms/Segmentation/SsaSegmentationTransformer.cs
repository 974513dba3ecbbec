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
    string ScoreColumn = "Score", string PredictedLabelColumn = "PredictedLabel");

/// <summary>
/// A fitted semantic segmenter. Adds <c>PredictedLabel</c> (Vector&lt;Key&lt;K&gt;, H·W&gt;, row-major, key values = class
/// names, so it compares directly with a key-typed mask column) and <c>Score</c> (Vector&lt;Single, K, H, W&gt;,
/// per-pixel class probabilities). Batched <c>Transform</c>, <c>PredictionEngine</c>, and
/// <c>mlContext.Model.Save/Load</c> (after <c>mlContext.RegisterMLNetExtensions()</c>) come from <see cref="TorchTransformerBase"/>.
/// </summary>
public sealed class SsaSegmentationTransformer : TorchTransformerBase
{
    internal const string LoaderSignature = "MLNetExtSegmentation";
    private static readonly MLNetInternals.ModelVersion Version = new("MLXTSEGM", 0x00010001, 0x00010001, 0x00010001, LoaderSignature);

    private readonly Tensor _mean, _std;
    private readonly TorchOutputColumn[] _outputs;

    /// <summary>Wraps a trained network (takes ownership; it is disposed with the transformer).</summary>
    public SsaSegmentationTransformer(IHostEnvironment env, SegmentationModelDescription description, nn.Module<Tensor, Tensor> network,
        Device device, int inferenceBatchSize = 64)
        : base(env, nameof(SsaSegmentationTransformer), network, device, inferenceBatchSize)
    {
        ArgumentNullException.ThrowIfNull(description);
        if (description.Mean.Length != 3 || description.Std.Length != 3) throw new ArgumentException("Mean and Std need 3 values.", nameof(description));
        if (description.ClassNames.Length != description.NumClasses) throw new ArgumentException("ClassNames must have NumClasses entries.", nameof(description));
        Description = description;
        Network = network;
        _mean = torch.tensor(description.Mean, new long[] { 1, 3, 1, 1 }).to(device);
        _std = torch.tensor(description.Std, new long[] { 1, 3, 1, 1 }).to(device);
        _outputs = BuildOutputs(description);
    }

    /// <summary>Architecture, geometry, classes and columns of this model.</summary>
    public SegmentationModelDescription Description { get; }
    /// <summary>The network (eval mode): normalised images → per-pixel logits.</summary>
    public nn.Module<Tensor, Tensor> Network { get; }

    protected override string InputColumnName => Description.InputColumn;
    protected override IReadOnlyList<TorchOutputColumn> OutputColumns => _outputs;

    protected override (Func<DataViewRow, IRowFiller>, long[]) BindInput(DataViewSchema schema)
    {
        var d = Description;
        var expected = d.InputIsVector ? $"a Vector<Single> of {d.SourceChannels}×{d.Height}×{d.Width} pixels" : $"an image (MLImage) of {d.Width}×{d.Height}";
        var col = schema.GetColumnOrNull(d.InputColumn) ?? throw SchemaError.Missing(d.InputColumn, expected);
        var spec = ImageInput.Resolve(d.InputColumn, col.Type, 3,
            d.InputIsVector ? d.SourceChannels : null, d.InputIsVector ? d.Height : null, d.InputIsVector ? d.Width : null);
        if (spec.Height != d.Height || spec.Width != d.Width)
            throw SchemaError.WrongType(d.InputColumn, $"images of {d.Width}×{d.Height} (the training size)", col.Type);
        return (spec.CreateFiller, new long[] { 3, d.Height, d.Width });
    }

    /// <summary>Per-pixel probabilities (B, K·H·W) for a batch of raw [0,1] images.</summary>
    protected override Tensor Forward(Tensor batch) =>
        Network.call((batch - _mean) / _std).softmax(1).reshape(batch.shape[0], -1);

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

    // ---- persistence ----------------------------------------------------------------------------------------------
    protected override void SaveModel(ModelSaveContext ctx) =>
        MLNetInternals.Save(ctx, Version, typeof(SsaSegmentationTransformer),
            w => w.Write(JsonSerializer.Serialize(Description)),
            new (string, Action<BinaryWriter>)[] { ("Weights.safetensors", w => SafeTensors.Write(w.BaseStream, Network.state_dict())) });

    /// <summary>ML.NET's loader entry (<c>SignatureLoadModel</c>); <paramref name="ctx"/> is its ModelLoadContext.</summary>
    private static SsaSegmentationTransformer Create(IHostEnvironment env, object ctx)
    {
        var load = MLNetInternals.OpenLoad(ctx, Version, typeof(SsaSegmentationTransformer));
        var d = JsonSerializer.Deserialize<SegmentationModelDescription>(load.Reader.ReadString())
            ?? throw new InvalidDataException("The segmentation model's description is empty.");
        var weights = load.ReadStream("Weights.safetensors", r => SafeTensors.Read(r.BaseStream));
        var model = TorchModelRegistry.Create(d.Architecture, d.ConfigJson, d.NumClasses);
        TrainingCheckpointStore.LoadInto(model, weights, "model zip");
        var device = TorchDevices.Resolve(null, env as MLContext);
        model.to(device);
        return new SsaSegmentationTransformer(env, d, model, device);
    }

    internal static void RegisterLoader(ComponentCatalog catalog) =>
        MLNetInternals.RegisterLoader(catalog, typeof(SsaSegmentationTransformer), LoaderSignature,
            typeof(SsaSegmentationTransformer).GetMethod(nameof(Create), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!);
}

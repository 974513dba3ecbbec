using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Interop;
using MLNetExtensions.Core.IO;
using MLNetExtensions.Core.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Inference;

/// <summary>What a fitted image classifier needs to rebuild itself: architecture, input geometry, classes, normalisation.</summary>
public sealed record ImageClassifierDescription(
    string Architecture, string ConfigJson, int NumClasses, string InputColumn, int Channels, int Height, int Width,
    bool InputIsVector, int SourceChannels, string[] ClassNames, float[] Mean, float[] Std,
    string ScoreColumn = "Score", string PredictedLabelColumn = "PredictedLabel") : IImageNetworkDescription;

/// <summary>
/// A fitted TorchSharp image classifier: <c>Score</c> (class probabilities, with the annotations ML.NET's
/// multiclass evaluator and <c>MapKeyToValue</c> use) and <c>PredictedLabel</c> (key with the training label's
/// values). Serves any registered architecture; round-trips through <c>mlContext.Model.Save/Load</c> with weights
/// (safetensors) inside the zip.
/// </summary>
public class TorchImageClassificationTransformer : TorchImageNetworkTransformer<ImageClassifierDescription>
{
    internal const string LoaderSignature = "MLNetExtTorchImageClf";
    private static readonly MLNetInternals.ModelVersion Version = new("MLXTIMGC", 0x00010001, 0x00010001, 0x00010001, LoaderSignature);

    private readonly TorchOutputColumn[] _outputs;

    /// <summary>Wraps a trained module (takes ownership; it is disposed with the transformer).</summary>
    public TorchImageClassificationTransformer(IHostEnvironment env, ImageClassifierDescription description, nn.Module<Tensor, Tensor> model,
        Device device, int inferenceBatchSize = 64)
        : base(env, nameof(TorchImageClassificationTransformer), Version, description, model, device, inferenceBatchSize)
    {
        _outputs = BuildOutputs(description);
    }

    protected override IReadOnlyList<TorchOutputColumn> OutputColumns => _outputs;

    /// <summary>Class probabilities for a normalised-on-the-fly batch of raw [0,1] images.</summary>
    protected override Tensor Forward(Tensor batch) => Logits(batch).softmax(1);

    private static TorchOutputColumn[] BuildOutputs(ImageClassifierDescription d)
    {
        var names = new VBuffer<ReadOnlyMemory<char>>(d.NumClasses, d.ClassNames.Select(n => n.AsMemory()).ToArray());
        var textVec = new VectorDataViewType(TextDataViewType.Instance, d.NumClasses);
        var score = new DataViewSchema.Annotations.Builder();
        score.Add(ColumnNames.SlotNames, textVec, (ref VBuffer<ReadOnlyMemory<char>> v) => names.CopyTo(ref v));
        score.Add(ColumnNames.ScoreColumnKind, TextDataViewType.Instance, (ref ReadOnlyMemory<char> v) => v = "MulticlassClassification".AsMemory());
        score.Add(ColumnNames.ScoreValueKind, TextDataViewType.Instance, (ref ReadOnlyMemory<char> v) => v = "Score".AsMemory());
        score.Add(ColumnNames.ScoreColumnSetId, new KeyDataViewType(typeof(uint), int.MaxValue), (ref uint v) => v = 1);
        score.Add(ColumnNames.TrainingLabelValues, textVec, (ref VBuffer<ReadOnlyMemory<char>> v) => names.CopyTo(ref v));
        var pred = new DataViewSchema.Annotations.Builder();
        pred.Add(ColumnNames.KeyValues, textVec, (ref VBuffer<ReadOnlyMemory<char>> v) => names.CopyTo(ref v));
        return new[]
        {
            new TorchOutputColumn(d.ScoreColumn, OutputKind.Scores, new VectorDataViewType(NumberDataViewType.Single, d.NumClasses), score.ToAnnotations()),
            new TorchOutputColumn(d.PredictedLabelColumn, OutputKind.ArgmaxKey, new KeyDataViewType(typeof(uint), d.NumClasses), pred.ToAnnotations()),
        };
    }

    /// <summary>ML.NET's loader entry (<c>SignatureLoadModel</c>); <paramref name="ctx"/> is its ModelLoadContext.</summary>
    private static TorchImageClassificationTransformer Create(IHostEnvironment env, object ctx)
    {
        var (d, model, device) = Load(env, ctx, Version, typeof(TorchImageClassificationTransformer));
        return new TorchImageClassificationTransformer(env, d, model, device);
    }

    internal static void RegisterLoader(ComponentCatalog catalog) =>
        RegisterLoader(catalog, typeof(TorchImageClassificationTransformer), LoaderSignature);
}

using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Core.Interop;
using MLNetExtensions.Core.Models;
using TorchSharp;
using static TorchSharp.torch;
using MLNetExtensions.Transforms.Segmentation;

namespace MLNetExtensions.Transforms.Ssa;

/// <summary>The persistence-version-1 description of a segmenter (zips written before the model contract); read only, it converts to a <see cref="ModelDescription"/>.</summary>
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
    string ScoreColumn = "Score", string PredictedLabelColumn = "PredictedLabel")
{
    /// <summary>The same model as a version-2 description (the network always sees RGB).</summary>
    public ModelDescription ToModelDescription() =>
        new(ModelTasks.Segmenter, Architecture, ConfigJson, NumClasses, ClassNames,
            new InputSpec[]
            {
                new ImageInputSpec(InputColumn, TorchNetwork.InputSlot, 3)
                    { Height = Height, Width = Width, IsVector = InputIsVector, SourceChannels = SourceChannels, Mean = Mean, Std = Std, Resolved = true },
            },
            SsaSegmentationTransformer.Outputs(NumClasses, Height, Width, ScoreColumn, PredictedLabelColumn)) { Version = 1 };
}

/// <summary>
/// A fitted semantic segmenter. Adds <c>PredictedLabel</c> (Vector&lt;Key&lt;K&gt;, H·W&gt;, row-major, key values = class
/// names, so it compares directly with a key-typed mask column) and <c>Score</c> (Vector&lt;Single, K, H, W&gt;,
/// per-pixel class probabilities). Batched <c>Transform</c>, <c>PredictionEngine</c>, and
/// <c>mlContext.Model.Save/Load</c> (after <c>mlContext.RegisterMLNetExtensions()</c>) come from <see cref="TorchTransformerBase"/>.
/// </summary>
public sealed class SsaSegmentationTransformer : TorchTransformerBase
{
    internal const string LoaderSignature = "MLNetExtSegmentation";
    private static readonly MLNetInternals.ModelVersion Version = new("MLXTSEGM", 0x00020001, 0x00020001, 0x00010001, LoaderSignature);

    /// <summary>Wraps a trained network (takes ownership; it is disposed with the transformer).</summary>
    public SsaSegmentationTransformer(IHostEnvironment env, ModelDescription description, TorchNetwork network, Device device)
        : base(env, nameof(SsaSegmentationTransformer), description, network, device)
    {
    }

    /// <summary>The network (eval mode): normalised images → per-pixel logits.</summary>
    public nn.Module<Tensor, Tensor> Network => TorchNetwork.AsSingle();

    private protected override MLNetInternals.ModelVersion PersistenceVersion => Version;

    /// <summary>The segmenter's outputs: per-pixel probabilities and the per-pixel class map.</summary>
    public static OutputSpec[] Outputs(int classes, int height, int width, string scoreColumn, string predictedLabelColumn) => new[]
    {
        new OutputSpec(scoreColumn, OutputKind.Scores, TorchNetwork.LogitsSlot) { Shape = new[] { classes, height, width }, Classes = classes, Activation = OutputActivation.Softmax },
        new OutputSpec(predictedLabelColumn, OutputKind.ArgmaxKeyMap, TorchNetwork.LogitsSlot)
            { Shape = new[] { height * width }, Classes = classes, Activation = OutputActivation.Softmax, ClassAnnotations = true },
    };

    /// <summary>ML.NET's loader entry (<c>SignatureLoadModel</c>); <paramref name="ctx"/> is its ModelLoadContext.</summary>
    private static SsaSegmentationTransformer Create(IHostEnvironment env, object ctx)
    {
        // Version-1 zips predate SSA's official constant buffer ssa_loss.criterion.empty_weight: it keeps its value.
        var l = LoadAnyVersion<SegmentationModelDescription>(env, ctx, Version, typeof(SsaSegmentationTransformer), v1 => v1.ToModelDescription(),
            k => k.EndsWith(".ssa_loss.criterion.empty_weight", StringComparison.Ordinal));
        return new SsaSegmentationTransformer(env, l.Description, l.Network, l.Device);
    }

    internal static void RegisterLoader(ComponentCatalog catalog) =>
        RegisterLoader(catalog, typeof(SsaSegmentationTransformer), LoaderSignature);
}

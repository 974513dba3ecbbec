using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Models;
using MLNetExtensions.Core.Interop;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Transforms.Segmentation;
using TorchSharp;
using static TorchSharp.torch;
using MLNetExtensions.Transforms.Ssa;

namespace MLNetExtensions.Estimators.Segmentation;

/// <summary>
/// Semantic segmentation with the SSA pixel classifier (Ma et al., NeurIPS 2024) or the plain 1×1 classifier it
/// replaces, on a light conv backbone + SegFormer-style decoder. Input: an image column and a key-typed per-pixel label
/// map (Vector&lt;Key&lt;K&gt;, H·W&gt;, row-major; a missing key 0 is ignored). Output: a
/// <see cref="SsaSegmentationTransformer"/> adding <c>PredictedLabel</c> (Vector&lt;Key&lt;K&gt;, H·W&gt;) and
/// <c>Score</c> (Vector&lt;Single, K, H, W&gt;). Fit is the shared <see cref="TorchTrainerBase{TOptions, TTransformer}"/>.
/// </summary>
public sealed partial class SsaSegmenter : TorchTrainerBase<SsaSegmenter.Options, SsaSegmentationTransformer>
{
    /// <summary>Creates the trainer; invalid options throw here, naming the option.</summary>
    public SsaSegmenter(IHostEnvironment env, Options options) : base(env, options, nameof(SsaSegmenter)) { }

    /// <summary>Tensors taken from <see cref="TorchTrainerOptions.PretrainedWeightsPath"/> by the last <see cref="TorchTrainerBase{TOptions, TTransformer}.Fit"/> (null = none given).</summary>
    public int? PretrainedTensorsLoaded => LastPretrainedLoad?.Loaded.Count;
    /// <summary>Per epoch of the last Fit: the mean of each named loss term (e.g. SSA's eight official terms).</summary>
    public IReadOnlyList<IReadOnlyDictionary<string, double>> LossTermHistory =>
        LastTrainingSummary?.History.Where(h => h.EpochCompleted && h.LossTerms != null).Select(h => h.LossTerms!).ToList()
        ?? new List<IReadOnlyDictionary<string, double>>();

    /// <inheritdoc/>
    protected override string Task => ModelTasks.Segmenter;

    /// <inheritdoc/>
    protected override IReadOnlyList<InputSpec> DeclareInputs()
    {
        var o = TrainerOptions;
        return new InputSpec[]
        {
            new ImageInputSpec(o.ImageColumnName, TorchNetwork.InputSlot, 3)
                { SourceChannels = o.ImageChannels, Height = o.ImageHeight, Width = o.ImageWidth, Mean = o.Mean, Std = o.Std },
            new KeyMapInputSpec(o.LabelColumnName, "label") { Role = InputRole.Label },
        };
    }

    /// <inheritdoc/>
    protected override void CheckInputs(IReadOnlyList<InputSpec> inputs, string what)
    {
        var img = (ImageInputSpec)inputs[0];
        var map = (KeyMapInputSpec)inputs[1];
        int h = img.Height!.Value, w = img.Width!.Value, s = ConvPyramidBackbone.Stride;
        if (h % s != 0 || w % s != 0)
            throw new ArgumentOutOfRangeException(img.Column, $"Column '{img.Column}' ({what}) holds {w}×{h} images; height and width must be multiples of {s} (resize or pad them).");
        if (map.Positions != h * w)
            throw new ArgumentOutOfRangeException(map.Column, $"Label column '{map.Column}' has {map.Positions} positions but the images in '{img.Column}' are {w}×{h} = {h * w} pixels ({what}).");
    }

    /// <inheritdoc/>
    protected override IModelArchitecture Architecture(IReadOnlyList<InputSpec> inputs, int classes) => TrainerOptions.NetworkConfig;

    /// <inheritdoc/>
    protected override OutputSpec[] Outputs(IReadOnlyList<InputSpec> inputs, int classes)
    {
        var img = (ImageInputSpec)inputs[0];
        return SsaSegmentationTransformer.Outputs(classes, img.Height ?? 0, img.Width ?? 0, TrainerOptions.ScoreColumnName, TrainerOptions.PredictedLabelColumnName);
    }

    /// <inheritdoc/>
    protected override TrainingTask CreateTask(TrainingContext context) => new SegmentationTrainingTask(context, TrainerOptions);

    /// <inheritdoc/>
    protected override SsaSegmentationTransformer CreateTransformer(ModelDescription description, TorchNetwork network, Device device) =>
        new(Env, description, network, device);
}

using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Models;
using MLNetExtensions.Core.Torch;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Transforms.GeminiFusion;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Estimators.GeminiFusion;

/// <summary>
/// Multimodal semantic segmentation with GeminiFusion (Jia et al., ICML 2024; JiaDingCN/GeminiFusion): a weight-shared
/// multi-stream MiT whose every block fuses the modalities pixel by pixel, a shared SegFormer decoder, and the official
/// three outputs (one branch per modality + their ensemble) trained with the official loss summed over all of them.
/// Input: one column per modality (<see cref="Options.Modalities"/>: an RGB image, a depth map as an image or an H×W
/// float vector, …) and a key-typed per-pixel label map (Vector&lt;Key&lt;K&gt;, H·W&gt;; a missing key 0 is ignored).
/// Output: a <see cref="GeminiFusionTransformer"/> adding <c>PredictedLabel</c> and <c>Score</c> from the ensemble
/// (per-branch columns on request). Fit is the shared <see cref="TorchTrainerBase{TOptions, TTransformer}"/>.
/// </summary>
public sealed partial class GeminiFusionSegmenter : TorchTrainerBase<GeminiFusionSegmenter.Options, GeminiFusionTransformer>
{
    /// <summary>Creates the trainer; invalid options throw here, naming the option.</summary>
    public GeminiFusionSegmenter(IHostEnvironment env, Options options) : base(env, options, nameof(GeminiFusionSegmenter)) { }

    /// <inheritdoc/>
    protected override string Task => ModelTasks.Segmenter;

    /// <inheritdoc/>
    protected override IReadOnlyList<InputSpec> DeclareInputs()
    {
        var o = TrainerOptions;
        var specs = new List<InputSpec>();
        for (int m = 0; m < o.Modalities.Length; m++)
        {
            var mod = o.Modalities[m];
            string slot = GeminiFusionArchitecture.Slot(m);
            specs.Add(mod.Kind switch
            {
                ModalityInputKind.RgbImage => new ImageInputSpec(mod.ColumnName, slot, 3) { Height = o.ImageHeight, Width = o.ImageWidth, Mean = o.Mean, Std = o.Std },
                ModalityInputKind.Image => new ImageInputSpec(mod.ColumnName, slot, 3) { Height = o.ImageHeight, Width = o.ImageWidth },
                _ => new FloatTensorInputSpec(mod.ColumnName, slot, o.ImageHeight is int h && o.ImageWidth is int w ? new long[] { h, w } : null) { DimensionNames = "H×W" },
            });
        }
        specs.Add(new KeyMapInputSpec(o.LabelColumnName, "label") { Role = InputRole.Label });
        return specs;
    }

    /// <summary>Height and width of a resolved modality input (null when a flat map gives none).</summary>
    private static (int H, int W)? Size(InputSpec s) => s switch
    {
        ImageInputSpec i when i.Height is int h && i.Width is int w => (h, w),
        FloatTensorInputSpec { Shape: { Length: >= 2 } shape } => ((int)shape[^2], (int)shape[^1]),
        _ => null,
    };

    /// <summary>The common input size of the modalities (resolved inputs).</summary>
    private (int H, int W) InputSize(IReadOnlyList<InputSpec> inputs) =>
        inputs.Take(TrainerOptions.Modalities.Length).Select(Size).FirstOrDefault(s => s != null) ?? (0, 0);

    /// <inheritdoc/>
    protected override void CheckInputs(IReadOnlyList<InputSpec> inputs, string what)
    {
        int m = TrainerOptions.Modalities.Length;
        var (h, w) = InputSize(inputs);
        if (h == 0)
            throw new ArgumentOutOfRangeException(inputs[0].Column, $"No modality column ({what}) tells the image size: give an image column, a map with H×W dimensions, or set ImageHeight and ImageWidth.");
        for (int i = 0; i < m; i++)
        {
            var s = inputs[i];
            if (s is FloatTensorInputSpec f)
            {
                long values = f.Shape!.Aggregate(1L, (a, b) => a * b);
                bool sizeOk = Size(f) is not { } sz || sz == (h, w);
                if (!sizeOk || (values != (long)h * w && values != 3L * h * w))
                    throw new ArgumentOutOfRangeException(f.Column, $"Column '{f.Column}' ({what}, modality {i}) holds {string.Join("×", f.Shape!)} values; expected a map of {h}×{w} (or 1×{h}×{w}, 3×{h}×{w}) like the other modalities.");
            }
            else if (Size(s) != (h, w))
                throw new ArgumentOutOfRangeException(s.Column, $"Column '{s.Column}' ({what}, modality {i}) holds {Size(s)?.W}×{Size(s)?.H} images; every modality must be {w}×{h} like '{inputs[0].Column}'.");
        }
        int stride = TrainerOptions.Backbone.OutputStride;
        if (h % stride != 0 || w % stride != 0)
            throw new ArgumentOutOfRangeException(inputs[0].Column, $"Column '{inputs[0].Column}' ({what}) holds {w}×{h} inputs; with {TrainerOptions.Backbone.Name} height and width must be multiples of {stride} (resize or pad them).");
        var map = (KeyMapInputSpec)inputs[m];
        if (map.Positions != h * w)
            throw new ArgumentOutOfRangeException(map.Column, $"Label column '{map.Column}' has {map.Positions} positions but the modalities are {w}×{h} = {h * w} pixels ({what}).");
    }

    /// <inheritdoc/>
    protected override IModelArchitecture Architecture(IReadOnlyList<InputSpec> inputs, int classes)
    {
        var o = TrainerOptions;
        var (h, w) = InputSize(inputs);
        return new GeminiFusionArchitecture(o.Backbone, o.Modalities.Length, o.EmbeddingDim, h, w, o.FreezeBatchNorm) { Ablation = o.Ablation };
    }

    /// <inheritdoc/>
    protected override OutputSpec[] Outputs(IReadOnlyList<InputSpec> inputs, int classes)
    {
        var o = TrainerOptions;
        var (h, w) = InputSize(inputs);
        return GeminiFusionTransformer.Outputs(classes, h, w, o.ScoreColumnName, o.PredictedLabelColumnName,
            o.BranchOutputs ? o.Modalities.Select(m => m.ColumnName).ToArray() : null);
    }

    /// <summary>
    /// Loads an official checkpoint strictly by the official names: a <c>main</c>-branch file (<c>{"segmenter": state_dict}</c>
    /// or the bare state dict, <c>.pt</c>/<c>.pth</c>/<c>.safetensors</c>, a DDP <c>module.</c> prefix stripped) must hold
    /// every tensor of this network with its shape and nothing else; only the classifier <c>decoder.linear_pred.*</c>
    /// may differ in its class count (it then keeps its fresh initialisation and is reported).
    /// </summary>
    protected override PretrainedLoadReport LoadPretrained(TorchNetwork network, string path, int classes)
    {
        var raw = PretrainedWeights.Read(path);
        var weights = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (k, v) in raw) weights[k.StartsWith("module.", StringComparison.Ordinal) ? k["module.".Length..] : k] = v;
        var sd = network.Module.state_dict();
        var unexpected = weights.Keys.Where(k => !sd.ContainsKey(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        if (unexpected.Count > 0)
        {
            foreach (var t in weights.Values) t.Dispose();
            throw new ArgumentException($"Pretrained weights '{path}' hold {unexpected.Count} tensors this GeminiFusion network does not have (e.g. '{unexpected[0]}'); " +
                $"check the backbone ({TrainerOptions.Backbone.Name}), the number of modalities ({TrainerOptions.Modalities.Length}) and EmbeddingDim ({TrainerOptions.EmbeddingDim}).", nameof(path));
        }
        var skipped = new List<SkippedTensor>();
        foreach (var (k, target) in sd)
            if (k.StartsWith("decoder.linear_pred.", StringComparison.Ordinal) && weights.TryGetValue(k, out var src) && !src.shape.SequenceEqual(target.shape))
            {
                skipped.Add(new SkippedTensor(k, src.shape, target.shape));
                weights.Remove(k);
                src.Dispose();
            }
        var loaded = weights.Keys.ToList();
        try { StateDicts.LoadStrict(network.Module, weights, path, k => skipped.Any(s => s.Key == k)); }
        catch (InvalidDataException e) { throw new ArgumentException($"Pretrained weights '{path}' do not fit this GeminiFusion network: {e.Message}", nameof(path), e); }
        return new PretrainedLoadReport(path, loaded, skipped, Array.Empty<string>(), Array.Empty<string>());
    }

    /// <inheritdoc/>
    protected override TrainingTask CreateTask(TrainingContext context) => new GeminiFusionTrainingTask(context, TrainerOptions);

    /// <inheritdoc/>
    protected override GeminiFusionTransformer CreateTransformer(ModelDescription description, TorchNetwork network, Device device)
    {
        var d = description with { Properties = new Dictionary<string, string>(description.Properties) { [GeminiFusionTransformer.MissingModalityProperty] = TrainerOptions.MissingModality.ToString() } };
        return new GeminiFusionTransformer(Env, d, network, device);
    }
}

using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Models;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Core.Interop;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Transforms.SqueezeTime;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Estimators.SqueezeTime;

/// <summary>
/// Trains a SqueezeTime video classifier (Zhai et al., 2024: time squeezed into channels, Channel-Time Learning
/// blocks; xinghaochen/SqueezeTime) on clips held as flat float vectors, and returns a
/// <see cref="TorchImageClassificationTransformer"/> (Score/PredictedLabel, save/load, PredictionEngine).
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term>Task</term><description>Multiclass classification of video clips</description></item>
/// <item><term>Input columns</term><description>Video: Vector&lt;Single&gt; of T×C×H×W RGB values in [0,1], frame-major (as <c>VideoFrameDecoder</c> writes it); Label: key</description></item>
/// <item><term>Output columns</term><description>Score: class probabilities; PredictedLabel: key with the label's values</description></item>
/// <item><term>Normalisation</term><description>Inside the network: <c>(255·v − mean)/std</c> with the official mmaction mean/std</description></item>
/// </list>
/// The clip is bound as a float tensor T×C×H×W (saved as such in the model description); the network reorders it to
/// (N, C, T, H, W). Fit is the shared <see cref="TorchTrainerBase{TOptions, TTransformer}"/>, training the shared
/// <see cref="ClassificationTask"/>.
/// </remarks>
public sealed class SqueezeTimeVideoClassifier : TorchTrainerBase<SqueezeTimeVideoClassifier.Options, TorchImageClassificationTransformer>
{
    /// <summary>SqueezeTime options.</summary>
    public sealed class Options : TorchTrainerOptions
    {
        /// <summary>Clip column: Vector&lt;Single&gt; of T×C×H×W values in [0,1]. Default <c>Video</c>.</summary>
        public string VideoColumnName { get; set; } = ColumnNames.Video;
        /// <summary>Frame height H; null = from a 4-D vector type (T, C, H, W). Default null.</summary>
        public int? ImageHeight { get; set; }
        /// <summary>Frame width W; null = from a 4-D vector type. Default null.</summary>
        public int? ImageWidth { get; set; }
        /// <summary>Architecture; its <c>Frames</c> is T and its class count is replaced by the label's. Default <see cref="SqueezeTimeConfig.Tiny"/> (T = 8).</summary>
        public SqueezeTimeConfig Config { get; set; } = SqueezeTimeConfig.Tiny(frames: 8);
        /// <summary>Per-colour mean on 0–255 pixels (applied inside the network, as mmaction's preprocessor). Default the official (123.675, 116.28, 103.53).</summary>
        public float[] Mean { get; set; } = SqueezeTimeConfig.PixelMean.ToArray();
        /// <summary>Per-colour std on 0–255 pixels. Default the official (58.395, 57.12, 57.375).</summary>
        public float[] Std { get; set; } = SqueezeTimeConfig.PixelStd.ToArray();
        /// <inheritdoc/>
        public override void Validate()
        {
            base.Validate();
            ArgumentNullException.ThrowIfNull(Config, nameof(Config));
            Config.Validate();
            if (Mean.Length != Config.ImageChannels || Std.Length != Config.ImageChannels)
                throw new ArgumentException($"Mean and Std need {Config.ImageChannels} values.", nameof(Mean));
            if (Std.Any(s => !(s > 0))) throw new ArgumentOutOfRangeException(nameof(Std), "Std values must be positive.");
            if ((ImageHeight == null) != (ImageWidth == null)) throw new ArgumentException("Set both ImageHeight and ImageWidth, or neither.", nameof(ImageHeight));
        }
    }

    internal SqueezeTimeVideoClassifier(IHostEnvironment env, Options options) : base(env, options, nameof(SqueezeTimeVideoClassifier)) { }

    /// <inheritdoc/>
    protected override string Task => ModelTasks.Classifier;

    /// <inheritdoc/>
    protected override IReadOnlyList<InputSpec> DeclareInputs()
    {
        var o = TrainerOptions;
        long[]? shape = o.ImageHeight is int h && o.ImageWidth is int w ? new long[] { o.Config.Frames, o.Config.ImageChannels, h, w } : null;
        return new InputSpec[]
        {
            new FloatTensorInputSpec(o.VideoColumnName, TorchNetwork.InputSlot, shape) { DimensionNames = "T×C×H×W clip values" },
            new KeyLabelInputSpec(o.LabelColumnName, "label") { Role = InputRole.Label },
        };
    }

    /// <inheritdoc/>
    protected override void CheckInputs(IReadOnlyList<InputSpec> inputs, string what)
    {
        var o = TrainerOptions;
        var clip = (FloatTensorInputSpec)inputs[0];
        int t = o.Config.Frames, c = o.Config.ImageChannels;
        var d = clip.Shape!;
        long size = d.Aggregate(1L, (a, b) => a * b);
        if (d.Length != 4)
            throw new ArgumentOutOfRangeException(clip.Column, $"Column '{clip.Column}' ({what}) is a flat Vector<Single> of {size} values; set Options.ImageHeight and Options.ImageWidth (clips are T×C×H×W with T = {t}, C = {c}).");
        if (d[0] != t || d[1] != c)
            throw new ArgumentOutOfRangeException(clip.Column, $"Column '{clip.Column}' ({what}) has {size} values per row as {string.Join("×", d)}; expected T×C×H×W with T = {t} (Config.Frames) and C = {c}.");
        long min = SqueezeTimeInput.MinSide(o.Config);
        if (d[2] < min || d[3] < min) throw new ArgumentOutOfRangeException(clip.Column, $"Column '{clip.Column}' holds {d[3]}×{d[2]} frames; this SqueezeTime config needs sides of at least {min}.");
    }

    /// <inheritdoc/>
    protected override IModelArchitecture Architecture(IReadOnlyList<InputSpec> inputs, int classes)
    {
        var d = ((FloatTensorInputSpec)inputs[0]).Shape!;
        var o = TrainerOptions;
        return new SqueezeTimeArchitecture(o.Config with { NumClasses = classes }, (int)d[2], (int)d[3], o.Mean, o.Std);
    }

    /// <inheritdoc/>
    protected override OutputSpec[] Outputs(IReadOnlyList<InputSpec> inputs, int classes) =>
        ClassifierOutputs.For(classes, TrainerOptions.ScoreColumnName, TrainerOptions.PredictedLabelColumnName);

    /// <inheritdoc/>
    protected override TrainingTask CreateTask(TrainingContext context) => new ClassificationTask(context, TrainerOptions);

    /// <summary>
    /// Loads an official mmaction <c>state_dict</c> (keys <c>backbone.net.*</c>, <c>cls_head.fc_cls.*</c>, optionally
    /// under <c>state_dict</c>) into the recognizer. Every backbone tensor must match; the head <c>cls_head.*</c> is
    /// skipped (and reported) when the checkpoint has another class count, so an official checkpoint fine-tunes on new classes.
    /// </summary>
    protected override PretrainedLoadReport LoadPretrained(TorchNetwork network, string path, int classes) =>
        PretrainedWeights.Load(((SqueezeTimeVideoNetwork)network.Module).Model, path, PretrainedWeights.KeysStartingWith("cls_head."));

    /// <inheritdoc/>
    protected override TorchImageClassificationTransformer CreateTransformer(ModelDescription description, TorchNetwork network, Device device) =>
        new(Env, description, network, device);
}

using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Core.Interop;
using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Training;

/// <summary>Options shared by the suite's image classifiers.</summary>
public abstract class ImageClassifierOptions : TorchTrainerOptions
{
    /// <summary>Image column: an MLImage (sized, e.g. after ResizeImages) or a Vector&lt;Single&gt; of C×H×W. Default <c>Image</c>.</summary>
    public string ImageColumnName { get; set; } = ColumnNames.Image;
    /// <summary>Channels of a flat float-vector image column (1 or 3); null = from the vector's dimensions. Default null.</summary>
    public int? ImageChannels { get; set; }
    /// <summary>Height of a flat float-vector image column; null = from the vector's dimensions. Default null.</summary>
    public int? ImageHeight { get; set; }
    /// <summary>Width of a flat float-vector image column; null = from the vector's dimensions. Default null.</summary>
    public int? ImageWidth { get; set; }
    /// <summary>Per-channel mean subtracted from [0,1] pixels (RGB). Default ImageNet's (0.485, 0.456, 0.406), as the official recipes.</summary>
    public float[] Mean { get; set; } = { 0.485f, 0.456f, 0.406f };
    /// <summary>Per-channel standard deviation (RGB). Default ImageNet's (0.229, 0.224, 0.225).</summary>
    public float[] Std { get; set; } = { 0.229f, 0.224f, 0.225f };

    public override void Validate()
    {
        base.Validate();
        if (Mean.Length != 3 || Std.Length != 3) throw new ArgumentException("Mean and Std need 3 values (R, G, B).", nameof(Mean));
        if (Std.Any(s => !(s > 0))) throw new ArgumentOutOfRangeException(nameof(Std), "Std values must be positive.");
    }
}

/// <summary>
/// Trainer base for the suite's image classifiers, on the shared <see cref="TorchTrainerBase{TOptions, TTransformer}"/>:
/// an image column and a key label in, <see cref="TorchImageClassificationTransformer"/> (Score/PredictedLabel) out,
/// trained by <see cref="ClassificationTask"/>. A component supplies its architecture record and input-size rule.
/// </summary>
public abstract class TorchImageClassificationTrainer<TOptions> : TorchTrainerBase<TOptions, TorchImageClassificationTransformer>
    where TOptions : ImageClassifierOptions
{
    protected TorchImageClassificationTrainer(IHostEnvironment env, TOptions options, string name) : base(env, options, name) { }

    /// <summary>The architecture record of the network to train (read after <see cref="CheckImageSize"/>).</summary>
    protected abstract IModelArchitecture ArchitectureRecord { get; }
    /// <summary>Throws a clear error when the model cannot take images of this size.</summary>
    protected abstract void CheckImageSize(string column, int height, int width);
    /// <summary>
    /// Turns the trained network into its served form (e.g. BatchNorm folded into convolutions) and returns the record
    /// that rebuilds that form at load time. Default: unchanged.
    /// </summary>
    protected virtual IModelArchitecture PrepareForServing(nn.Module<Tensor, Tensor> model) => ArchitectureRecord;
    /// <summary>Called after every optimisation step (e.g. to advance a PRepBN LayerNorm→BatchNorm schedule).</summary>
    protected virtual void OnTrainingStep(nn.Module<Tensor, Tensor> model, long step, long totalSteps) { }

    /// <inheritdoc/>
    protected sealed override string Task => ModelTasks.Classifier;

    /// <inheritdoc/>
    protected sealed override IReadOnlyList<InputSpec> DeclareInputs()
    {
        var o = TrainerOptions;
        return new InputSpec[]
        {
            new ImageInputSpec(o.ImageColumnName, TorchNetwork.InputSlot, 3)
                { SourceChannels = o.ImageChannels, Height = o.ImageHeight, Width = o.ImageWidth, Mean = o.Mean, Std = o.Std },
            new KeyLabelInputSpec(o.LabelColumnName, "label") { Role = InputRole.Label },
        };
    }

    /// <inheritdoc/>
    protected sealed override void CheckInputs(IReadOnlyList<InputSpec> inputs, string what)
    {
        var img = (ImageInputSpec)inputs[0];
        try { CheckImageSize(img.Column, img.Height!.Value, img.Width!.Value); }
        catch (ArgumentException e) when (e is not ArgumentOutOfRangeException)
        {
            // ML.NET's estimator rule: bad input is out of range (the message without ArgumentException's parameter suffix).
            var message = e.ParamName != null ? e.Message.Replace($" (Parameter '{e.ParamName}')", "") : e.Message;
            throw new ArgumentOutOfRangeException(img.Column, message);
        }
    }

    /// <inheritdoc/>
    protected sealed override IModelArchitecture Architecture(IReadOnlyList<InputSpec> inputs, int classes) => ArchitectureRecord;

    /// <inheritdoc/>
    protected sealed override OutputSpec[] Outputs(IReadOnlyList<InputSpec> inputs, int classes) =>
        ClassifierOutputs.For(classes, TrainerOptions.ScoreColumnName, TrainerOptions.PredictedLabelColumnName);

    /// <inheritdoc/>
    protected sealed override TrainingTask CreateTask(TrainingContext context)
    {
        var model = context.Network.AsSingle();
        return new ClassificationTask(context, TrainerOptions, (step, total) => OnTrainingStep(model, step, total));
    }

    /// <inheritdoc/>
    protected sealed override IModelArchitecture PrepareForServing(TorchNetwork network, IModelArchitecture architecture) =>
        PrepareForServing(network.AsSingle());

    /// <inheritdoc/>
    protected sealed override TorchImageClassificationTransformer CreateTransformer(ModelDescription description, TorchNetwork network, Device device) =>
        new(Env, description, network, device);
}

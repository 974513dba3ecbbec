using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Core.Models;
using MLNetExtensions.Transforms.TinyViM;
using static TorchSharp.torch;

namespace MLNetExtensions.Estimators.TinyViM;

/// <summary>
/// Trains a TinyViM image classifier (conv–Mamba hybrid whose Laplace mixer sends only low frequencies to a 2-D
/// selective scan; xwmaxwma/TinyViM) and returns a transformer that serves the official deploy form (BatchNorm
/// folded into the convolutions).
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term>Task</term><description>Multiclass classification</description></item>
/// <item><term>Input columns</term><description>Image: MLImage (sized; H and W multiples of 32, e.g. ResizeImages to 64×64) or Vector&lt;Single&gt; C×H×W in [0,1]; Label: key</description></item>
/// <item><term>Output columns</term><description>Score: Vector&lt;Single&gt; of class probabilities; PredictedLabel: key with the label's values</description></item>
/// <item><term>Normalisation / caching</term><description>Done inside (mean/std options); no caching needed (images stream)</description></item>
/// <item><term>Extra NuGet packages</term><description>A TorchSharp backend: TorchSharp-cpu, or a CUDA bundle with Device = "cuda"</description></item>
/// <item><term>ONNX export</term><description>No (TorchSharp has none)</description></item>
/// </list>
/// </remarks>
public sealed class TinyViMClassifier : TorchImageClassificationTrainer<TinyViMClassifier.Options>
{
    /// <summary>TinyViM options. Defaults follow the official recipe where they transfer to small data.</summary>
    public sealed class Options : ImageClassifierOptions
    {
        /// <summary>Variant name: official <c>S</c>, <c>B</c>, <c>L</c>, or the small <c>Tiny</c>/<c>Micro</c> for CPU work. Default <c>Tiny</c>.</summary>
        public string Variant { get; set; } = "Tiny";
        /// <summary>A full architecture configuration; overrides <see cref="Variant"/> when set. Default null.</summary>
        public TinyViMConfig? Config { get; set; }
        /// <summary>Keep the DeiT-style distillation head (official checkpoints have one; both heads then learn the label). Default false.</summary>
        public bool Distillation { get; set; }
        /// <summary>Stochastic depth rate (official S: 0.0 … L: 0.1). Default 0.</summary>
        public double DropPathRate { get; set; }
        /// <summary>Serve the folded deploy form after training (same outputs within 1e-4, faster). Default true.</summary>
        public bool DeployForInference { get; set; } = true;

        internal TinyViMConfig Resolve() => (Config ?? TinyViMConfig.Named(Variant)) with { DropPathRate = DropPathRate };

        public override void Validate()
        {
            base.Validate();
            if (DropPathRate < 0 || DropPathRate >= 1) throw new ArgumentOutOfRangeException(nameof(DropPathRate), DropPathRate, "DropPathRate must be in [0, 1).");
            Resolve().Validate();
        }
    }

    internal TinyViMClassifier(IHostEnvironment env, Options options) : base(env, options, nameof(TinyViMClassifier))
    {
    }

    protected override IModelArchitecture ArchitectureRecord => new TinyViMArchitecture(TrainerOptions.Resolve(), TrainerOptions.Distillation, false);

    protected override void CheckImageSize(string column, int height, int width)
    {
        int m = TrainerOptions.Resolve().InputMultiple;
        if (height % m != 0 || width % m != 0)
            throw new ArgumentException($"Column '{column}' holds {width}×{height} images; TinyViM needs height and width that are multiples of {m} " +
                $"(every scan runs on the 1/32 grid). Resize first, e.g. mlContext.Transforms.ResizeImages(\"{column}\", 64, 64).");
    }

    protected override IModelArchitecture PrepareForServing(nn.Module<Tensor, Tensor> model)
    {
        if (!TrainerOptions.DeployForInference) return ArchitectureRecord;
        ((TinyViMModel)model).SwitchToDeploy();
        return new TinyViMArchitecture(TrainerOptions.Resolve(), TrainerOptions.Distillation, true);
    }
}

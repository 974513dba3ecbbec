using MLNetExtensions.Core.Torch;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Core.Models;
using MLNetExtensions.Transforms.Slab;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Estimators.Slab;

/// <summary>
/// Trains a SLAB image classifier (Guo et al., ICML 2024; xinghaochen/SLAB): a DeiT or Swin transformer whose
/// attention can be simplified linear attention (ReLU kernel + depthwise conv on V, linear in the token count) and
/// whose norms can be progressive re-parameterised BatchNorm (LayerNorm fading linearly into RepBN during training).
/// After training, BatchNorm-type models are served in the folded form: every norm is merged into the neighbouring
/// linear layer, so inference has no normalisation op at all.
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term>Task</term><description>Multiclass classification</description></item>
/// <item><term>Input columns</term><description>Image: square MLImage (sized) or Vector&lt;Single&gt; C×H×W in [0,1] (DeiT: side a multiple of the patch; Swin: see <see cref="SlabArchitecture.CheckImageSize"/>); Label: key</description></item>
/// <item><term>Output columns</term><description>Score: Vector&lt;Single&gt; of class probabilities; PredictedLabel: key with the label's values</description></item>
/// <item><term>Normalisation / caching</term><description>Done inside (mean/std options); no caching needed (images stream)</description></item>
/// <item><term>Extra NuGet packages</term><description>A TorchSharp backend: TorchSharp-cpu, or a CUDA bundle with Device = "cuda"</description></item>
/// <item><term>ONNX export</term><description>No (TorchSharp has none)</description></item>
/// </list>
/// The PRepBN schedule follows the trainer's optimizer steps (the official code counts training forward calls,
/// which is the same for plain training), and its length T defaults to <see cref="Options.PRepBNFraction"/> of the
/// run, so that training always ends in pure RepBN (maintainer guidance: T below the total iterations).
/// </remarks>
public sealed class SlabClassifier : TorchImageClassificationTrainer<SlabClassifier.Options>
{
    /// <summary>SLAB options. Defaults: a small SLAB-DeiT with PRepBN and SLA, sized for 28–64 px images on a CPU.</summary>
    public sealed class Options : ImageClassifierOptions
    {
        /// <summary>Backbone family. Default <see cref="SlabFamily.DeiT"/>.</summary>
        public SlabFamily Family { get; set; } = SlabFamily.DeiT;
        /// <summary>
        /// Variant name within <see cref="Family"/>: official (DeiT <c>deit_tiny_patch16_224_linear_repbn</c>,
        /// <c>deit_small_…</c>; Swin <c>slab_swin_tiny/small/base_patch4_224</c>, <c>swin_tiny_repbn</c>,
        /// <c>swin_tiny_patch4_window7_224</c>; aliases tiny/small/base) or the CPU-sized <c>micro</c>, <c>nano</c>
        /// (<c>slab_deit_micro</c>, …). Null = <c>micro</c>. Default null.
        /// </summary>
        public string? Variant { get; set; }
        /// <summary>A full DeiT configuration; overrides <see cref="Variant"/> for the DeiT family. Default null.</summary>
        public SlabDeitConfig? DeitConfig { get; set; }
        /// <summary>A full Swin configuration; overrides <see cref="Variant"/> for the Swin family. Default null.</summary>
        public SlabSwinConfig? SwinConfig { get; set; }
        /// <summary>Norm in every norm slot: LayerNorm (baseline), BatchNorm (naive BN), RepBN, PRepBN (SLAB). Default <see cref="TokenNormKind.PRepBN"/>.</summary>
        public TokenNormKind Norm { get; set; } = TokenNormKind.PRepBN;
        /// <summary>
        /// Attention: <see cref="AttentionKind.Sla"/> (DeiT: every block; Swin: the variant's SLA stages, official
        /// "LLSS", or every stage when the variant has none) or <see cref="AttentionKind.Softmax"/> (DeiT: global;
        /// Swin: shifted windows of 7 everywhere). Null = the variant's own. Default null.
        /// </summary>
        public AttentionKind? Attention { get; set; }
        /// <summary>PRepBN decay length T in optimizer steps; null = <see cref="PRepBNFraction"/> × the run's total steps. Default null.</summary>
        public long? PRepBNSteps { get; set; }
        /// <summary>Share of the run over which γ decays from 1 to 0 when <see cref="PRepBNSteps"/> is null (method note: 0.6–0.8). Default 0.6.</summary>
        public double PRepBNFraction { get; set; } = 0.6;
        /// <summary>Pure-LayerNorm steps before the decay starts (official vision configs: 0). Default 0.</summary>
        public long PRepBNWarmSteps { get; set; }
        /// <summary>Stochastic-depth rate; null = the variant's (official Swin-T 0.2, DeiT 0; small variants 0). Default null.</summary>
        public double? DropPathRate { get; set; }
        /// <summary>Serve the folded form after training when the norm is BatchNorm-type (same scores within 1e-4, no norm ops). Default true.</summary>
        public bool DeployForInference { get; set; } = true;

        internal string VariantName => Variant ?? "micro";

        internal SlabDeitConfig ResolveDeit(int imgSize, long decaySteps)
        {
            var c = DeitConfig ?? SlabArchitecture.DeitVariant(VariantName);
            c = c with { ImgSize = imgSize, InChans = 3, Norm = Norm, PRepBN = c.PRepBN with { TotalSteps = decaySteps, WarmSteps = PRepBNWarmSteps } };
            if (Attention is AttentionKind a) c = c with { Attention = a };
            if (DropPathRate is double d) c = c with { DropPathRate = d };
            return c;
        }

        internal SlabSwinConfig ResolveSwin(int imgSize, long decaySteps)
        {
            var c = SwinConfig ?? SlabArchitecture.SwinVariant(VariantName);
            c = c with { ImgSize = imgSize, InChans = 3, Norm = Norm, PRepBN = c.PRepBN with { TotalSteps = decaySteps, WarmSteps = PRepBNWarmSteps } };
            if (Attention == AttentionKind.Softmax || (Attention == AttentionKind.Sla && !c.AttnType.Contains('L')))
                c = c.WithAttention(Attention.Value);
            if (DropPathRate is double d) c = c with { DropPathRate = d };
            return c;
        }

        /// <inheritdoc/>
        public override void Validate()
        {
            base.Validate();
            if (DropPathRate is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(DropPathRate), DropPathRate, "DropPathRate must be in [0, 1).");
            if (PRepBNSteps is < 1) throw new ArgumentOutOfRangeException(nameof(PRepBNSteps), PRepBNSteps, "PRepBNSteps must be ≥ 1 or null (derived from the run length).");
            if (!(PRepBNFraction > 0 && PRepBNFraction <= 1)) throw new ArgumentOutOfRangeException(nameof(PRepBNFraction), PRepBNFraction, "PRepBNFraction must be in (0, 1].");
            if (PRepBNWarmSteps < 0) throw new ArgumentOutOfRangeException(nameof(PRepBNWarmSteps), PRepBNWarmSteps, "PRepBNWarmSteps must be ≥ 0.");
            if (!Enum.IsDefined(Family)) throw new ArgumentOutOfRangeException(nameof(Family), Family, "Family must be DeiT or Swin.");
            if (!Enum.IsDefined(Norm)) throw new ArgumentOutOfRangeException(nameof(Norm), Norm, "Unknown Norm.");
            try
            {
                if (Family == SlabFamily.DeiT) ResolveDeit(224, 1); else ResolveSwin(224, 1);
            }
            catch (ArgumentException e) when (e.ParamName == null)
            {
                throw new ArgumentException(e.Message, nameof(Variant), e);
            }
        }
    }

    private int _imageSize = 224;
    private long _decaySteps = 60_000;

    internal SlabClassifier(IHostEnvironment env, Options options) : base(env, options, nameof(SlabClassifier))
    {
    }

    /// <summary>PRepBN decay length T used by the last <c>Fit</c> (null before the first step or for other norms).</summary>
    public long? PRepBNDecaySteps { get; private set; }

    /// <inheritdoc/>
    protected override IModelArchitecture ArchitectureRecord => Spec(deployed: false);

    private SlabArchitecture Spec(bool deployed)
    {
        var o = TrainerOptions;
        long t = o.PRepBNSteps ?? _decaySteps;
        return o.Family == SlabFamily.DeiT
            ? new SlabArchitecture(SlabFamily.DeiT, o.ResolveDeit(_imageSize, t), null, deployed)
            : new SlabArchitecture(SlabFamily.Swin, null, o.ResolveSwin(_imageSize, t), deployed);
    }

    /// <inheritdoc/>
    protected override void CheckImageSize(string column, int height, int width)
    {
        var o = TrainerOptions;
        SlabArchitecture.CheckImageSize(o.Family, o.Family == SlabFamily.DeiT ? o.ResolveDeit(height, 1) : null,
            o.Family == SlabFamily.Swin ? o.ResolveSwin(height, 1) : null, column, height, width);
        // The SLA positional term is sized to the token grid, so the image side is part of the architecture.
        _imageSize = height;
        PRepBNDecaySteps = null;
    }

    /// <summary>
    /// Sets every PRepBN's position from the global step: after s steps, warm = max(0, W − s) and
    /// iter = clamp(T − (s − W), 0, T), i.e. one official training forward per optimizer step. T is fixed at the
    /// first step with a known run length (while the row count is unknown, during the first epoch, γ stays 1).
    /// </summary>
    protected override void OnTrainingStep(nn.Module<Tensor, Tensor> model, long step, long totalSteps)
    {
        var o = TrainerOptions;
        if (o.Norm != TokenNormKind.PRepBN) return;
        if (PRepBNDecaySteps == null)
        {
            if (o.PRepBNSteps is long fixedT) PRepBNDecaySteps = fixedT;
            else if (totalSteps < long.MaxValue / 8) PRepBNDecaySteps = Math.Max(1, (long)Math.Round(o.PRepBNFraction * Math.Max(0, totalSteps - o.PRepBNWarmSteps)));
            else return;
            _decaySteps = PRepBNDecaySteps.Value;
        }
        long t = PRepBNDecaySteps.Value, w = o.PRepBNWarmSteps;
        long warm = Math.Max(0, w - step), iter = Math.Clamp(t - Math.Max(0, step - w), 0, t);
        using var noGrad = torch.no_grad();
        foreach (var p in PRepBN.Enumerate(model))
        {
            if (p.TotalSteps != t)
                foreach (var (name, buffer) in p.named_buffers())
                    if (name == "total_step") buffer.FillInPlace(t);
            p.SetSchedule(iter, warm);
        }
    }

    /// <inheritdoc/>
    protected override IModelArchitecture PrepareForServing(nn.Module<Tensor, Tensor> model)
    {
        var o = TrainerOptions;
        if (!o.DeployForInference || o.Norm == TokenNormKind.LayerNorm) return ArchitectureRecord;
        switch (model)
        {
            case SlabDeit d: d.SwitchToDeploy(); break;
            case SlabSwinTransformer s: s.SwitchToDeploy(); break;
            default: throw new InvalidOperationException($"SlabClassifier: unexpected network type {model.GetType().Name}.");
        }
        return Spec(deployed: true);
    }
}

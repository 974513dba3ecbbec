using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Transforms.GeminiFusion;

namespace MLNetExtensions.Estimators.GeminiFusion;

public sealed partial class GeminiFusionSegmenter
{
    /// <summary>
    /// Options of <see cref="GeminiFusionSegmenter"/>. Shared training options come from <see cref="TorchTrainerOptions"/>;
    /// the defaults follow the official NYUDv2 recipe (JiaDingCN/GeminiFusion <c>main.py</c>) where it applies: AdamW,
    /// weight decay 0.01, poly(1) = linear decay, decoder at ×10, frozen BatchNorm, <c>alpha</c> not trained.
    /// <see cref="TorchTrainerOptions.LabelSmoothing"/> is not used (the official loss has none).
    /// </summary>
    public sealed class Options : TorchTrainerOptions
    {
        /// <summary>
        /// Sets the GeminiFusion defaults: label column <c>Mask</c>, modalities RGB <c>Image</c> + depth map <c>Depth</c>,
        /// MiT-B0, batch 8, 10 epochs, AdamW lr 6e-5 (official base lr; the decoder at ×10), linear decay to 0, wd 0.01, no
        /// BatchNorm re-estimation (the official <c>--freeze-bn</c> keeps the decoder BN statistics).
        /// </summary>
        public Options()
        {
            LabelColumnName = ColumnNames.Mask;
            BatchSize = 8;
            MaxEpochs = 10;
            LearningRate = 6e-5;
            MinLearningRate = 0; // official poly(1) decays to 0
            WeightDecay = 0.01;
            Schedule = LearningRateSchedule.Linear;
            BatchNormRecalibrationBatches = 0;
            InferenceBatchSize = 16;
        }

        /// <summary>
        /// The modalities in stream order (modality 0 is the official RGB stream, the ensemble's first branch). At least two.
        /// Default RGB <c>Image</c> (<see cref="ModalityInputKind.RgbImage"/>) and depth <c>Depth</c> (<see cref="ModalityInputKind.Map"/>).
        /// </summary>
        public GeminiFusionModality[] Modalities { get; set; } =
            { new(ColumnNames.Image, ModalityInputKind.RgbImage), new("Depth", ModalityInputKind.Map) };

        /// <summary>MiT backbone: <see cref="MitConfig.B0"/> (default) … <see cref="MitConfig.B5"/>, or a smaller config (e.g. <see cref="MitConfig.Small"/>).</summary>
        public MitConfig Backbone { get; set; } = MitConfig.B0;
        /// <summary>SegFormer decoder width. Default 256 (official NYUDv2/SUN).</summary>
        public int EmbeddingDim { get; set; } = GeminiFusionNetwork.DefaultEmbeddingDim;
        /// <summary>Keep BatchNorm in eval mode while training (official <c>--freeze-bn</c>, default true).</summary>
        public bool FreezeBatchNorm { get; set; } = true;
        /// <summary>Train the ensemble logits <c>alpha</c> (DeLiVER branch). Default false: the official NYUDv2/SUN recipe never optimises it, so the ensemble is a fixed average.</summary>
        public bool TrainEnsembleWeights { get; set; }
        /// <summary>Learning-rate multiplier of the decoder (<c>decoder.*</c>). Default 10 (official <c>get_param_groups</c>).</summary>
        public double DecoderLearningRateMultiplier { get; set; } = 10;
        /// <summary>Also output each modality branch's scores and map, as <c>Score.{column}</c> / <c>PredictedLabel.{column}</c>. Default false (ensemble only).</summary>
        public bool BranchOutputs { get; set; }
        /// <summary>What the fitted model does when a modality column is absent at serving time. Default <see cref="MissingModalityPolicy.Error"/>.</summary>
        public MissingModalityPolicy MissingModality { get; set; } = MissingModalityPolicy.Error;
        /// <summary>Ablation switches and simple-fusion baselines (not official; null = official GeminiFusion in every block). Saved with the model.</summary>
        public GeminiFusionAblation? Ablation { get; set; }
        /// <summary>Height of flat (dimension-less) float-vector columns; null = from the vectors' dimensions.</summary>
        public int? ImageHeight { get; set; }
        /// <summary>Width of flat float-vector columns; null = from the vectors' dimensions.</summary>
        public int? ImageWidth { get; set; }
        /// <summary>Per-channel mean of <see cref="ModalityInputKind.RgbImage"/> inputs. Default ImageNet's.</summary>
        public float[] Mean { get; set; } = { 0.485f, 0.456f, 0.406f };
        /// <summary>Per-channel standard deviation of <see cref="ModalityInputKind.RgbImage"/> inputs. Default ImageNet's.</summary>
        public float[] Std { get; set; } = { 0.229f, 0.224f, 0.225f };

        /// <inheritdoc/>
        public override void Validate()
        {
            base.Validate();
            if (string.IsNullOrEmpty(LabelColumnName)) throw new ArgumentException("LabelColumnName must be set.", nameof(LabelColumnName));
            if (Modalities is not { Length: >= 2 } || Modalities.Any(m => m == null || string.IsNullOrEmpty(m.ColumnName)))
                throw new ArgumentException("Modalities must list at least two modalities, each with a column name.", nameof(Modalities));
            if (Modalities.Select(m => m.ColumnName).Distinct().Count() != Modalities.Length && Ablation?.NoFusion != true)
                throw new ArgumentException("Each modality needs its own column (one column twice is only allowed for a unimodal baseline, Ablation.NoFusion = true).", nameof(Modalities));
            if (Modalities.Any(m => !Enum.IsDefined(m.Kind))) throw new ArgumentOutOfRangeException(nameof(Modalities), "Unknown modality input kind.");
            if (Modalities.Any(m => m.ColumnName == LabelColumnName)) throw new ArgumentException("A modality column cannot be the label column.", nameof(Modalities));
            ArgumentNullException.ThrowIfNull(Backbone, nameof(Backbone));
            try { Backbone.Validate(); }
            catch (ArgumentException e) { throw new ArgumentException($"Backbone {Backbone.Name}: {e.Message}", nameof(Backbone), e); }
            if (Ablation is { FuseFromStage: var f } && (f < 0 || f >= Backbone.NumStages))
                throw new ArgumentOutOfRangeException(nameof(Ablation), f, $"Ablation.FuseFromStage must name one of the backbone's {Backbone.NumStages} stages (0-based).");
            if (Backbone.InChannels != 3) throw new ArgumentOutOfRangeException(nameof(Backbone), Backbone.InChannels, "Backbone.InChannels must be 3 (every modality is read as 3 channels, as the official code).");
            if (EmbeddingDim < 1) throw new ArgumentOutOfRangeException(nameof(EmbeddingDim), EmbeddingDim, "EmbeddingDim must be ≥ 1.");
            if (!(DecoderLearningRateMultiplier >= 0) || double.IsInfinity(DecoderLearningRateMultiplier))
                throw new ArgumentOutOfRangeException(nameof(DecoderLearningRateMultiplier), DecoderLearningRateMultiplier, "DecoderLearningRateMultiplier must be a finite value ≥ 0.");
            if (!Enum.IsDefined(MissingModality)) throw new ArgumentOutOfRangeException(nameof(MissingModality), MissingModality, "MissingModality must be Error or Zeros.");
            if (Mean is not { Length: 3 } || Std is not { Length: 3 }) throw new ArgumentException("Mean and Std need 3 values (R, G, B).", nameof(Mean));
            if (Std.Any(s => !(s > 0))) throw new ArgumentOutOfRangeException(nameof(Std), "Std values must be positive.");
            if (ImageHeight is < 1 || ImageWidth is < 1) throw new ArgumentOutOfRangeException(nameof(ImageHeight), "ImageHeight and ImageWidth must be ≥ 1 when set.");
        }
    }
}

using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Transforms.Fustal;

namespace MLNetExtensions.Estimators.Fustal;

public sealed partial class FustalStudent
{
    /// <summary>
    /// Options of <see cref="FustalStudent"/> (note fustal.md §5, §6). Defaults follow the official THUMOS config:
    /// AdamW lr 1e-4, weight decay 0.05, batch 8, gradient clip 1.0, 100 epochs with the EMA phase from epoch 60,
    /// truncation to ≤ 2304 grid points with crop ratio [0.9, 1], input noise σ 5e-4. The official warm-up + cosine with
    /// an infinite horizon is a constant rate after one warm-up epoch here (set <see cref="TorchTrainerOptions.WarmupSteps"/>).
    /// </summary>
    public sealed class Options : TorchTrainerOptions
    {
        /// <summary>Sets the student defaults.</summary>
        public Options()
        {
            BatchSize = 8;
            MaxEpochs = 100;
            LearningRate = 1e-4;
            MinLearningRate = 0;
            WeightDecay = 0.05;
            Schedule = LearningRateSchedule.Constant;
            GradientClipNorm = 1.0;
            InferenceBatchSize = 8;
        }

        /// <summary>Features: Vector&lt;Single&gt; of T×D (any T per row). Default <c>Features</c>.</summary>
        public string FeatureColumnName { get; set; } = ColumnNames.Features;
        /// <summary>Target segment starts (seconds, Vector&lt;Single&gt;). Default <c>PseudoStart</c> (the selection's output).</summary>
        public string TargetStartColumnName { get; set; } = "PseudoStart";
        /// <summary>Target segment ends (seconds). Default <c>PseudoEnd</c>.</summary>
        public string TargetEndColumnName { get; set; } = "PseudoEnd";
        /// <summary>Target segment classes (Vector&lt;Key&gt;). Default <c>PseudoLabel</c>.</summary>
        public string TargetLabelColumnName { get; set; } = "PseudoLabel";
        /// <summary>Feature size D. Default 2048.</summary>
        public int FeatureSize { get; set; } = 2048;
        /// <summary>Longest video (features) the binder accepts. Default 10000.</summary>
        public int MaxSnippets { get; set; } = 10000;
        /// <summary>Most target segments per video. Default 512.</summary>
        public int MaxSegments { get; set; } = 512;
        /// <summary>Longest training clip after random truncation (grid points). Default 2304.</summary>
        public int MaxTrainLength { get; set; } = 2304;
        /// <summary>Random crop ratio range (fraction of the video kept). Default [0.9, 1].</summary>
        public double CropRatioMin { get; set; } = 0.9;
        /// <summary>Upper crop ratio. Default 1.</summary>
        public double CropRatioMax { get; set; } = 1.0;
        /// <summary>Gaussian input noise σ. Default 5e-4.</summary>
        public double InputNoise { get; set; } = 5e-4;
        /// <summary>Network. Default the official TriDet THUMOS config (its feature size and classes are replaced by the data's).</summary>
        public TriDetConfig Network { get; set; } = new();
        /// <summary>Post-processing of the fitted model. Default the official settings.</summary>
        public TriDetInferenceOptions Inference { get; set; } = new();
        /// <summary>Seconds ↔ grid. Default the ActionFormer THUMOS features (16-frame windows every 4 frames) at 30 fps.</summary>
        public StudentGridSpec Grid { get; set; } = new();
        /// <summary>Weight of the MIL loss (0 = off, TriDet alone). Needs the video label column (<see cref="TorchTrainerOptions.LabelColumnName"/>). Default 1.</summary>
        public double MilWeight { get; set; } = 1;
        /// <summary>EMA momentum (θ_ema ← d·θ_ema + (1 − d)·θ after every step). Default 0.999 (use 0.99 for a few hundred steps).</summary>
        public double EmaDecay { get; set; } = 0.999;
        /// <summary>Whether targets come from the EMA model's own predictions after <see cref="EmaSwitchEpoch"/> (the distillation phase; false = the ablation "EMA off"). Default true.</summary>
        public bool EmaDistillation { get; set; } = true;
        /// <summary>Epochs 1…this train on the given targets; later epochs on the EMA model's predictions. Default 60.</summary>
        public int EmaSwitchEpoch { get; set; } = 60;
        /// <summary>η': EMA predictions with a score above this become targets (the best one when none does). Default 0.4.</summary>
        public double EmaTargetThreshold { get; set; } = 0.4;
        /// <summary>Whether the fitted model serves the EMA weights (the official evaluation does). Default true.</summary>
        public bool ServeEmaWeights { get; set; } = true;
        /// <summary>Output column names (segments default to the evaluator's).</summary>
        public FustalOutputColumns OutputColumns { get; set; } = new();

        /// <inheritdoc/>
        public override void Validate()
        {
            base.Validate();
            if (FeatureSize < 1) throw new ArgumentOutOfRangeException(nameof(FeatureSize), FeatureSize, "FeatureSize must be ≥ 1.");
            if (MaxSnippets < 1 || MaxSegments < 1 || MaxTrainLength < 1) throw new ArgumentOutOfRangeException(nameof(MaxSnippets), "MaxSnippets, MaxSegments and MaxTrainLength must be ≥ 1.");
            if (!(CropRatioMin > 0 && CropRatioMin <= CropRatioMax && CropRatioMax <= 1)) throw new ArgumentOutOfRangeException(nameof(CropRatioMin), "Crop ratios need 0 < CropRatioMin ≤ CropRatioMax ≤ 1.");
            if (!(InputNoise >= 0)) throw new ArgumentOutOfRangeException(nameof(InputNoise), InputNoise, "InputNoise must be ≥ 0.");
            if (!(MilWeight >= 0)) throw new ArgumentOutOfRangeException(nameof(MilWeight), MilWeight, "MilWeight must be ≥ 0.");
            if (!(EmaDecay >= 0 && EmaDecay <= 1)) throw new ArgumentOutOfRangeException(nameof(EmaDecay), EmaDecay, "EmaDecay must be in [0, 1].");
            if (EmaSwitchEpoch < 0) throw new ArgumentOutOfRangeException(nameof(EmaSwitchEpoch), EmaSwitchEpoch, "EmaSwitchEpoch must be ≥ 0.");
            ArgumentNullException.ThrowIfNull(Network, nameof(Network));
            (Network with { FeatureDim = FeatureSize }).Validate();
            ArgumentNullException.ThrowIfNull(Inference, nameof(Inference));
            Inference.Validate();
            ArgumentNullException.ThrowIfNull(Grid, nameof(Grid));
            Grid.Validate();
            ArgumentNullException.ThrowIfNull(OutputColumns, nameof(OutputColumns));
        }
    }
}

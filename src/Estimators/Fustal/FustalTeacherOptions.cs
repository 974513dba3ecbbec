using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Transforms.Fustal;

namespace MLNetExtensions.Estimators.Fustal;

public sealed partial class FustalTeacher
{
    /// <summary>
    /// Options of <see cref="FustalTeacher"/> (note fustal.md §3, §6). The shared training options come from
    /// <see cref="TorchTrainerOptions"/>; the defaults follow the official generator config (lr 1e-4, weight decay 5e-4,
    /// batch 16, constant rate) except that the suite's loop uses AdamW (decoupled decay) where the code uses Adam with L2.
    /// <see cref="TorchTrainerOptions.LabelSmoothing"/> is not used.
    /// </summary>
    public sealed class Options : TorchTrainerOptions
    {
        /// <summary>Sets the teacher defaults (label column <c>Label</c>, batch 16, lr 1e-4 constant, wd 5e-4, 20 epochs).</summary>
        public Options()
        {
            BatchSize = 16;
            MaxEpochs = 20;
            LearningRate = 1e-4;
            MinLearningRate = 0;
            WeightDecay = 5e-4;
            Schedule = LearningRateSchedule.Constant;
            InferenceBatchSize = 16;
        }

        /// <summary>Snippet features: Vector&lt;Single&gt; of T×D values (any T per row). Default <c>Features</c>.</summary>
        public string FeatureColumnName { get; set; } = ColumnNames.Features;
        /// <summary>Snippet feature size D. Default 2048 (I3D RGB ‖ flow).</summary>
        public int FeatureSize { get; set; } = 2048;
        /// <summary>Longest video in snippets the binder accepts (rows are padded to it in a batch). Default 10000.</summary>
        public int MaxSnippets { get; set; } = 10000;
        /// <summary>T: every training video is resampled to T snippets (random perturb); serving samples longer ones uniformly to T. Default 750 (official).</summary>
        public int SampledLength { get; set; } = 750;
        /// <summary>Embedding width. Default 2048 (official, hard-coded there).</summary>
        public int EmbedDim { get; set; } = 2048;
        /// <summary>k_easy = T / r_easy. Default 5.</summary>
        public int REasy { get; set; } = 5;
        /// <summary>k_hard = T / r_hard. Default 20.</summary>
        public int RHard { get; set; } = 20;
        /// <summary>Erosion/dilation windows m and M. Default 3 and 6 (scale them with T).</summary>
        public int SmallWindow { get; set; } = 3;
        /// <summary>Large erosion/dilation window M. Default 6.</summary>
        public int LargeWindow { get; set; } = 6;
        /// <summary>Dropout before the classifier. Default 0.7.</summary>
        public double FeatureDropout { get; set; } = 0.7;
        /// <summary>Dropout on the easy-mining mask. Default 0.6.</summary>
        public double MiningDropout { get; set; } = 0.6;
        /// <summary>λ, the weight of the contrast terms. Default 0.01.</summary>
        public double ContrastWeight { get; set; } = 0.01;
        /// <summary>Weight of the in-batch cross-video contrast (divided by the number of same-label pairs); 0 switches it off (the ablation). Default 0.2.</summary>
        public double CrossVideoWeight { get; set; } = 0.2;
        /// <summary>InfoNCE temperature τ. Default 0.07.</summary>
        public double Temperature { get; set; } = 0.07;
        /// <summary>Proposal post-processing of the fitted model (note §3.5). Default the official settings.</summary>
        public ProposalOptions Proposals { get; set; } = new();
        /// <summary>Output column names (segments default to the evaluator's).</summary>
        public FustalOutputColumns OutputColumns { get; set; } = new();

        /// <inheritdoc/>
        public override void Validate()
        {
            base.Validate();
            if (FeatureSize < 1) throw new ArgumentOutOfRangeException(nameof(FeatureSize), FeatureSize, "FeatureSize must be ≥ 1.");
            if (MaxSnippets < 1) throw new ArgumentOutOfRangeException(nameof(MaxSnippets), MaxSnippets, "MaxSnippets must be ≥ 1.");
            if (EmbedDim < 1) throw new ArgumentOutOfRangeException(nameof(EmbedDim), EmbedDim, "EmbedDim must be ≥ 1.");
            if (REasy < 1) throw new ArgumentOutOfRangeException(nameof(REasy), REasy, "REasy must be ≥ 1.");
            if (RHard < 1) throw new ArgumentOutOfRangeException(nameof(RHard), RHard, "RHard must be ≥ 1.");
            if (SampledLength < RHard) throw new ArgumentOutOfRangeException(nameof(SampledLength), SampledLength, $"SampledLength must be ≥ RHard = {RHard} (k_hard = T / r_hard ≥ 1).");
            if (SmallWindow < 1 || LargeWindow < SmallWindow) throw new ArgumentOutOfRangeException(nameof(LargeWindow), LargeWindow, "Windows need 1 ≤ SmallWindow ≤ LargeWindow.");
            if (!(FeatureDropout >= 0 && FeatureDropout < 1)) throw new ArgumentOutOfRangeException(nameof(FeatureDropout), FeatureDropout, "FeatureDropout must be in [0, 1).");
            if (!(MiningDropout >= 0 && MiningDropout < 1)) throw new ArgumentOutOfRangeException(nameof(MiningDropout), MiningDropout, "MiningDropout must be in [0, 1).");
            if (!(ContrastWeight >= 0)) throw new ArgumentOutOfRangeException(nameof(ContrastWeight), ContrastWeight, "ContrastWeight must be ≥ 0.");
            if (!(CrossVideoWeight >= 0)) throw new ArgumentOutOfRangeException(nameof(CrossVideoWeight), CrossVideoWeight, "CrossVideoWeight must be ≥ 0.");
            if (!(Temperature > 0)) throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "Temperature must be > 0.");
            ArgumentNullException.ThrowIfNull(Proposals, nameof(Proposals));
            Proposals.Validate();
            ArgumentNullException.ThrowIfNull(OutputColumns, nameof(OutputColumns));
        }

        internal CoLAConfig Config(int classes) => new(FeatureSize, classes, EmbedDim, REasy, RHard, SmallWindow, LargeWindow, FeatureDropout, MiningDropout);
    }
}

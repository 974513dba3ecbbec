using Microsoft.ML;
using MLNetExtensions.Core.Torch;

namespace MLNetExtensions.Core.Training;

/// <summary>Learning-rate schedule over optimisation steps.</summary>
public enum LearningRateSchedule
{
    /// <summary>Constant learning rate (after warm-up).</summary>
    Constant,
    /// <summary>Cosine decay from <see cref="TorchTrainerOptions.LearningRate"/> to <see cref="TorchTrainerOptions.MinLearningRate"/> (timm's default for the methods in this suite).</summary>
    Cosine,
    /// <summary>Linear decay to <see cref="TorchTrainerOptions.MinLearningRate"/>.</summary>
    Linear,
}

/// <summary>
/// Options every TorchSharp trainer of the suite shares. Defaults are documented per property; components derive
/// from this class and add their architecture options.
/// </summary>
public abstract class TorchTrainerOptions : Tuning.ISweepableOptions
{
    /// <summary>Key-typed label column. Default <c>Label</c>.</summary>
    public string LabelColumnName { get; set; } = Data.ColumnNames.Label;
    /// <summary>Output scores column. Default <c>Score</c>.</summary>
    public string ScoreColumnName { get; set; } = Data.ColumnNames.Score;
    /// <summary>Output predicted key column. Default <c>PredictedLabel</c>.</summary>
    public string PredictedLabelColumnName { get; set; } = Data.ColumnNames.PredictedLabel;

    /// <summary>Rows per optimisation step. Default 64. Sweep default: 16, 32, 64, 128 (<see cref="Tuning.SweepChoiceAttribute"/>).</summary>
    [Tuning.SweepChoice(16, 32, 64, 128, LogScale = true)]
    public int BatchSize { get; set; } = 64;
    /// <summary>Maximum passes over the training data. Default 3.</summary>
    public int MaxEpochs { get; set; } = 3;
    /// <summary>Peak learning rate of AdamW. Default 2e-3. Sweep default: log range [1e-5, 1e-2] (fine-tuning to training from scratch).</summary>
    [Tuning.SweepRange(1e-5, 1e-2, LogBase = true)]
    public double LearningRate { get; set; } = 2e-3;
    /// <summary>Final learning rate of the decaying schedules. Default 1e-5.</summary>
    public double MinLearningRate { get; set; } = 1e-5;
    /// <summary>Schedule after warm-up. Default <see cref="LearningRateSchedule.Cosine"/>.</summary>
    public LearningRateSchedule Schedule { get; set; } = LearningRateSchedule.Cosine;
    /// <summary>Linear warm-up length in steps (0 = none). Default 0. Sweep default: 0, 50, 200, 1000 steps.</summary>
    [Tuning.SweepChoice(0, 50, 200, 1000)]
    public int WarmupSteps { get; set; }
    /// <summary>AdamW decoupled weight decay. Default 0.05 (timm/DeiT recipes). Sweep default: log range [3e-3, 0.3].</summary>
    [Tuning.SweepRange(3e-3, 0.3, LogBase = true)]
    public double WeightDecay { get; set; } = 0.05;
    /// <summary>
    /// Micro-batches whose gradients are summed before one optimisation step (the effective batch is BatchSize × this;
    /// each micro-batch loss is divided by it). Default 1.
    /// </summary>
    public int GradientAccumulationSteps { get; set; } = 1;
    /// <summary>Also validate every N optimisation steps (0 = only at the end of each epoch). Default 0.</summary>
    public int ValidateEveryNSteps { get; set; }
    /// <summary>
    /// Also checkpoint every N optimisation steps (0 = only at the end of each epoch); a run interrupted mid-epoch resumes
    /// after the last such step, skipping the batches it had trained. Needs <see cref="CheckpointDirectory"/>. Default 0.
    /// </summary>
    public int CheckpointEveryNSteps { get; set; }
    /// <summary>Clip the global gradient norm to this value (0 = off). Default 0.</summary>
    public double GradientClipNorm { get; set; }
    /// <summary>
    /// Per-parameter-group multipliers on the learning rate and weight decay (mmcv <c>paramwise_cfg.custom_keys</c>), by
    /// parameter-name prefix; the first matching rule wins, unmatched parameters use 1 and 1. Biases and 1-D (norm)
    /// parameters never decay. Null or empty = one learning rate for all (the default).
    /// </summary>
    public IReadOnlyList<ParameterGroupRule>? ParameterGroups { get; set; }
    /// <summary>Label smoothing of the cross-entropy loss. Default 0.1 (as the official recipes).</summary>
    public double LabelSmoothing { get; set; } = 0.1;
    /// <summary>
    /// Rows whose key label is missing (0): false (default) = <c>Fit</c> throws at the first such row, naming the
    /// column; true = they are skipped and counted (a warning in the MLContext log). A missing key is often a
    /// silent off-by-one: in a C# row class a <c>[KeyType(n)]</c> field is 0-based, and the value n reads as missing.
    /// </summary>
    public bool SkipMissingLabels { get; set; }

    /// <summary>Random seed for weights, dropout and shuffling. Null = the MLContext's seed (if it has one). Default null.</summary>
    public int? Seed { get; set; }
    /// <summary>Device: <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c> or <c>auto</c> (CUDA when available). Null = from MLContext (GpuDeviceId/FallbackToCpu), else CPU.</summary>
    public string? Device { get; set; }
    /// <summary>Shuffle the training rows every epoch. Default true.</summary>
    public bool Shuffle { get; set; } = true;
    /// <summary>Rows held for shuffling when the data view cannot shuffle itself. Default 1024.</summary>
    public int ShuffleBufferSize { get; set; } = 1024;

    /// <summary>Optional validation data, scored after every epoch (accuracy for classifiers).</summary>
    public IDataView? ValidationSet { get; set; }
    /// <summary>Stop after this many epochs without validation improvement (null = never). Needs <see cref="ValidationSet"/>. Default null.</summary>
    public int? EarlyStoppingPatience { get; set; }
    /// <summary>Smallest validation improvement that counts. Default 0.</summary>
    public double EarlyStoppingMinDelta { get; set; }
    /// <summary>Return the weights of the best validation epoch rather than the last. Default true.</summary>
    public bool RestoreBestWeights { get; set; } = true;

    /// <summary>Folder for periodic training checkpoints (weights, optimizer state, progress); null = none. Default null.</summary>
    public string? CheckpointDirectory { get; set; }
    /// <summary>
    /// How the periodic checkpoints are stored: null = uncompressed files (the default); an ExCP chain with
    /// <c>new ExcpOptions { … }</c> (MLNetExtensions.Transforms.Excp: weights + AdamW moments, lossy, typically 15–60×
    /// smaller, in <c>CheckpointDirectory/excp</c>, and every step servable with <c>mlContext.Transforms.LoadExcpCheckpoint</c>).
    /// Needs <see cref="CheckpointDirectory"/>.
    /// </summary>
    public ICheckpointFormat? CheckpointFormat { get; set; }
    /// <summary>Resume from the latest checkpoint in <see cref="CheckpointDirectory"/> if one exists. Default true.</summary>
    public bool ResumeFromCheckpoint { get; set; } = true;

    /// <summary>Optional PyTorch state-dict file (.pt/.pth, <c>torch.save(model.state_dict())</c>) to start from. Never a URL.</summary>
    public string? PretrainedWeightsPath { get; set; }

    /// <summary>Receives a report after every logged step and every epoch, on the training thread.</summary>
    public IProgress<TrainingProgress>? Progress { get; set; }
    /// <summary>Checked between batches; cancellation throws <see cref="OperationCanceledException"/>.</summary>
    public CancellationToken CancellationToken { get; set; }
    /// <summary>Trace-log and report progress every N steps. Default 50.</summary>
    public int LogEveryNSteps { get; set; } = 50;

    /// <summary>
    /// After training, re-estimate BatchNorm running statistics over this many training batches with the final
    /// weights (0 = keep the running averages). Matters for short runs; see <see cref="BatchNormStatistics"/>. Default 50.
    /// </summary>
    public int BatchNormRecalibrationBatches { get; set; } = 50;

    /// <summary>Rows per forward pass when the fitted model transforms data. Default 64.</summary>
    public int InferenceBatchSize { get; set; } = 64;

    /// <summary>Validates the shared options; throws naming the offending option.</summary>
    public virtual void Validate()
    {
        FiniteOptions.Require(this); // NaN/∞ in any floating-point option of this or a derived options class
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be at least 1.");
        if (MaxEpochs < 1) throw new ArgumentOutOfRangeException(nameof(MaxEpochs), MaxEpochs, "MaxEpochs must be at least 1.");
        if (!(LearningRate > 0)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "LearningRate must be positive.");
        if (MinLearningRate < 0 || MinLearningRate > LearningRate) throw new ArgumentOutOfRangeException(nameof(MinLearningRate), MinLearningRate, "MinLearningRate must be in [0, LearningRate].");
        if (WeightDecay < 0) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "WeightDecay must be ≥ 0.");
        if (WarmupSteps < 0) throw new ArgumentOutOfRangeException(nameof(WarmupSteps), WarmupSteps, "WarmupSteps must be ≥ 0.");
        ParameterGroupBuilder.Validate(ParameterGroups, nameof(ParameterGroups));
        if (GradientAccumulationSteps < 1) throw new ArgumentOutOfRangeException(nameof(GradientAccumulationSteps), GradientAccumulationSteps, "GradientAccumulationSteps must be at least 1.");
        if (ValidateEveryNSteps < 0) throw new ArgumentOutOfRangeException(nameof(ValidateEveryNSteps), ValidateEveryNSteps, "ValidateEveryNSteps must be ≥ 0.");
        if (CheckpointEveryNSteps < 0) throw new ArgumentOutOfRangeException(nameof(CheckpointEveryNSteps), CheckpointEveryNSteps, "CheckpointEveryNSteps must be ≥ 0.");
        if (CheckpointEveryNSteps > 0 && CheckpointDirectory == null) throw new ArgumentException("CheckpointEveryNSteps needs a CheckpointDirectory.", nameof(CheckpointEveryNSteps));
        if (LabelSmoothing < 0 || LabelSmoothing >= 1) throw new ArgumentOutOfRangeException(nameof(LabelSmoothing), LabelSmoothing, "LabelSmoothing must be in [0, 1).");
        if (EarlyStoppingPatience is < 1) throw new ArgumentOutOfRangeException(nameof(EarlyStoppingPatience), EarlyStoppingPatience, "EarlyStoppingPatience must be ≥ 1 or null.");
        if (EarlyStoppingPatience != null && ValidationSet == null) throw new ArgumentException("EarlyStoppingPatience needs a ValidationSet.", nameof(EarlyStoppingPatience));
        if (BatchNormRecalibrationBatches < 0) throw new ArgumentOutOfRangeException(nameof(BatchNormRecalibrationBatches), BatchNormRecalibrationBatches, "BatchNormRecalibrationBatches must be ≥ 0.");
        if (InferenceBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(InferenceBatchSize), InferenceBatchSize, "InferenceBatchSize must be at least 1.");
        if (CheckpointDirectory != null && File.Exists(CheckpointDirectory))
            throw new ArgumentException($"CheckpointDirectory '{CheckpointDirectory}' is a file; expected a folder (created when missing) for the training checkpoints.", nameof(CheckpointDirectory));
        if (PretrainedWeightsPath != null && Directory.Exists(PretrainedWeightsPath))
            throw new ArgumentException($"PretrainedWeightsPath '{PretrainedWeightsPath}' is a folder; expected a state-dict file (.pt/.pth/.safetensors).", nameof(PretrainedWeightsPath));
        if (PretrainedWeightsPath != null && !File.Exists(PretrainedWeightsPath))
            throw new FileNotFoundException($"PretrainedWeightsPath '{PretrainedWeightsPath}' does not exist.", PretrainedWeightsPath);
        if (CheckpointFormat != null)
        {
            if (CheckpointDirectory == null) throw new ArgumentException("CheckpointFormat needs a CheckpointDirectory.", nameof(CheckpointFormat));
            CheckpointFormat.Validate();
        }
        TorchDevices.Parse(Device); // throws on a malformed device string
    }
}

/// <summary>A progress report of a training run.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Step">Global optimisation step (1-based).</param>
/// <param name="StepsPerEpoch">Steps per epoch when known (after the first epoch or from the row count).</param>
/// <param name="TrainLoss">Mean training loss over the epoch so far.</param>
/// <param name="LearningRate">Current learning rate.</param>
/// <param name="ValidationMetric">Validation metric at the end of the epoch (null mid-epoch or without validation).</param>
/// <param name="EpochCompleted">True for the end-of-epoch report.</param>
/// <param name="Elapsed">Time since training started.</param>
public sealed record TrainingProgress(int Epoch, long Step, long? StepsPerEpoch, double TrainLoss, double LearningRate,
    double? ValidationMetric, bool EpochCompleted, TimeSpan Elapsed)
{
    /// <summary>Mean of each named loss term over the epoch so far (null when the task reports none).</summary>
    public IReadOnlyDictionary<string, double>? LossTerms { get; init; }
    /// <summary>Training rows per second since this run started (a resumed run: since the resume); null before the first row.</summary>
    public double? RowsPerSecond { get; init; }
    /// <summary>Optimisation steps per second since this run started; null before the first step.</summary>
    public double? StepsPerSecond { get; init; }
    /// <summary>
    /// Estimated time to the end of <see cref="TorchTrainerOptions.MaxEpochs"/> at the run's mean step rate (early
    /// stopping may end it sooner); zero at the last step; null while the steps per epoch are unknown.
    /// </summary>
    public TimeSpan? EstimatedRemaining { get; init; }
}

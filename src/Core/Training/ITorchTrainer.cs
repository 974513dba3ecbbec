namespace MLNetExtensions.Core.Training;

/// <summary>What every TorchSharp trainer of the suite exposes whatever its options and transformer types (sweeps, tooling, tests).</summary>
public interface ITorchTrainer
{
    /// <summary>The shared training options of this trainer.</summary>
    TorchTrainerOptions Options { get; }
    /// <summary>Summary of the last <c>Fit</c> (null before the first).</summary>
    TrainingSummary? LastTrainingSummary { get; }
}

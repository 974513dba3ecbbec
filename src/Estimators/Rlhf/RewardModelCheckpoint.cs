namespace MLNetExtensions.Estimators.Rlhf;

/// <summary>
/// One dev evaluation of a reward model during training (the paper's <c>model_step_{S}_f1_{F}_acc_{A}</c>): the weights
/// of the same step are in the ExCP chain under <c>CheckpointDirectory</c> (step 0 is the seeded initialisation).
/// </summary>
/// <param name="Step">Optimisation step (0 = untrained).</param>
/// <param name="Accuracy">Dev accuracy: over separators (fine-grained) or over pairs (preference).</param>
/// <param name="F1ErrorClass">F1 of the error class (fine-grained), NaN for the preference kind.</param>
/// <param name="PredictedErrorRate">Share of dev separators predicted as errors (fine-grained; the bias the note asks for), NaN otherwise.</param>
/// <param name="DevItems">Dev separators or pairs counted.</param>
public sealed record RewardModelCheckpoint(long Step, double Accuracy, double F1ErrorClass, double PredictedErrorRate, long DevItems);

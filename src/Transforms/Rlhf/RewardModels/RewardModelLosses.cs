using MLNetExtensions.Core.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Rlhf.RewardModels;

/// <summary>The reward models' losses (note §3).</summary>
public static class RewardModelLosses
{
    private static readonly Scalar IgnoreIndex = -100L; // rooted for the process lifetime (TorchSharp 0.107)

    /// <summary>
    /// InstructGPT's pairwise loss, mean over pairs of −log σ(s_w − s_l) (<c>run_pref_rm.py</c>), computed as
    /// −logsigmoid for stability at large margins.
    /// </summary>
    public static Tensor Pairwise(Tensor chosenScores, Tensor rejectedScores) =>
        nn.functional.logsigmoid(chosenScores - rejectedScores).mean().neg();

    /// <summary>
    /// Cross-entropy of (B, T, 2) separator logits against per-separator labels: only positions where
    /// <paramref name="sepMask"/> is true count (every other token is the paper's ignore index −100).
    /// <paramref name="targets"/> (B, T) int64 holds 0 = no error, 1 = error at separators (anything elsewhere).
    /// </summary>
    public static Tensor SeparatorCrossEntropy(Tensor logits, Tensor targets, Tensor sepMask)
    {
        using var scope = torch.NewDisposeScope();
        var ignore = torch.full_like(targets, IgnoreIndex);
        var t = torch.where(sepMask, targets, ignore);
        return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), t.reshape(-1), ignore_index: -100).MoveToOuterDisposeScope();
    }
}

/// <summary>Dev metrics of a token reward model: accuracy over separators and F1 of the error class ("positive" = has error, as <c>eval.py</c>).</summary>
public readonly record struct SeparatorMetrics(long TruePositive, long FalsePositive, long TrueNegative, long FalseNegative)
{
    /// <summary>Separators counted.</summary>
    public long Total => TruePositive + FalsePositive + TrueNegative + FalseNegative;
    /// <summary>(tp + tn) / all.</summary>
    public double Accuracy => Total == 0 ? double.NaN : (TruePositive + TrueNegative) / (double)Total;
    /// <summary>F1 of the error class (0 when no error is predicted nor present).</summary>
    public double F1ErrorClass => 2 * TruePositive + FalsePositive + FalseNegative == 0 ? 0 : 2.0 * TruePositive / (2 * TruePositive + FalsePositive + FalseNegative);
    /// <summary>Share of separators predicted as errors.</summary>
    public double PredictedErrorRate => Total == 0 ? double.NaN : (TruePositive + FalsePositive) / (double)Total;
    /// <summary>Share of separators labelled as errors.</summary>
    public double LabelledErrorRate => Total == 0 ? double.NaN : (TruePositive + FalseNegative) / (double)Total;

    /// <summary>Adds one prediction (<paramref name="predictedError"/>) against its label.</summary>
    public SeparatorMetrics Add(bool predictedError, bool labelledError) => (predictedError, labelledError) switch
    {
        (true, true) => this with { TruePositive = TruePositive + 1 },
        (true, false) => this with { FalsePositive = FalsePositive + 1 },
        (false, false) => this with { TrueNegative = TrueNegative + 1 },
        _ => this with { FalseNegative = FalseNegative + 1 },
    };
}

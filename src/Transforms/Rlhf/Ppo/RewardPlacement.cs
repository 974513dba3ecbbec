using MLNetExtensions.Core.Text;

namespace MLNetExtensions.Transforms.Rlhf.Ppo;

/// <summary>
/// Where a reward model's verdicts enter the per-token reward (note §4, <c>tasks/qa_feedback/training/reward.py</c>):
/// the fine-grained kinds put ±w at the token that ends each sentence (our separator): +w when the RM predicts "no
/// error" (relevance w = 0.3, factuality w = 0.5); the completeness RM puts ((s − μ)/σ)·0.3 at the final token.
/// </summary>
public static class RewardPlacement
{
    /// <summary>Relevance weight (±0.3 per sub-sentence).</summary>
    public const double RelevanceWeight = 0.3;
    /// <summary>Factuality weight (±0.5 per sentence).</summary>
    public const double FactualityWeight = 0.5;
    /// <summary>Completeness scale (×0.3 of the normalised score).</summary>
    public const double CompletenessScale = 0.3;

    /// <summary>
    /// Rewards over the response tokens: ±<paramref name="weight"/> at the k-th separator for verdict k
    /// (<paramref name="noError"/>[k] true → +w), 0 elsewhere. The verdicts must be one per separator.
    /// </summary>
    public static float[] AtSeparators(IReadOnlyList<long> responseTokens, IReadOnlyList<bool> noError, double weight, long separatorId = TextTokenizer.SepId)
    {
        var r = new float[responseTokens.Count];
        int k = 0;
        for (int i = 0; i < r.Length; i++)
        {
            if (responseTokens[i] != separatorId) continue;
            if (k >= noError.Count) throw new ArgumentException($"RewardPlacement.AtSeparators: the response has more separators than the {noError.Count} verdicts given.", nameof(noError));
            r[i] = (float)(noError[k++] ? weight : -weight);
        }
        if (k != noError.Count) throw new ArgumentException($"RewardPlacement.AtSeparators: {noError.Count} verdicts for {k} separators.", nameof(noError));
        return r;
    }

    /// <summary>((score − μ)/σ)·<paramref name="scale"/> at the last response token (the end token), 0 elsewhere.</summary>
    public static float[] AtEnd(int responseLength, double score, double mean = 0, double std = 1, double scale = CompletenessScale)
    {
        if (responseLength < 1) throw new ArgumentOutOfRangeException(nameof(responseLength), responseLength, "RewardPlacement.AtEnd: the response is empty.");
        if (!(std > 0)) throw new ArgumentOutOfRangeException(nameof(std), std, "RewardPlacement.AtEnd: σ must be > 0.");
        var r = new float[responseLength];
        r[^1] = (float)((score - mean) / std * scale);
        return r;
    }
}

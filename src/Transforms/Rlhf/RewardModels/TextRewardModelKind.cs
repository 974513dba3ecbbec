namespace MLNetExtensions.Transforms.Rlhf.RewardModels;

/// <summary>The two reward-model heads of the paper (note §3).</summary>
public enum TextRewardModelKind
{
    /// <summary>
    /// Token classification at every separator of the response (2 classes: no error / error), cross-entropy at the
    /// separators only: the relevance (NF-ERR) and factuality (F-ERR) reward models.
    /// </summary>
    FineGrained,
    /// <summary>A scalar per (prompt, response) trained on preference pairs with −log σ(s_w − s_l): the completeness reward model.</summary>
    Preference,
}

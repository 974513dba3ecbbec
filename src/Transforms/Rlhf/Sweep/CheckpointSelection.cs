namespace MLNetExtensions.Transforms.Rlhf.Sweep;

/// <summary>
/// Picks reward-model checkpoints spread over accuracy, as <c>tasks/qa_feedback/reward_model_select_acc.py</c> does
/// (note §3, §7.2): targets evenly spaced from the second-lowest accuracy (the lowest is dropped as an outlier) to the
/// maximum, each taking the nearest unused checkpoint; the most accurate checkpoint and step 0 are always kept.
/// </summary>
public static class CheckpointSelection
{
    /// <summary>Indices (into <paramref name="accuracies"/>) of at most <paramref name="k"/> selected checkpoints, ordered by accuracy.</summary>
    /// <param name="steps">Step of each checkpoint (step 0 is kept).</param>
    /// <param name="accuracies">Dev accuracy of each checkpoint.</param>
    /// <param name="k">How many to keep (≥ 2).</param>
    public static int[] EvenlyInAccuracy(IReadOnlyList<long> steps, IReadOnlyList<double> accuracies, int k)
    {
        if (steps.Count != accuracies.Count) throw new ArgumentException("CheckpointSelection: steps and accuracies differ in length.");
        if (k < 2) throw new ArgumentOutOfRangeException(nameof(k), k, "CheckpointSelection: k must be ≥ 2 (step 0 and the most accurate).");
        int n = accuracies.Count;
        if (n <= k) return Enumerable.Range(0, n).OrderBy(i => accuracies[i]).ThenBy(i => steps[i]).ToArray();
        var chosen = new HashSet<int>();
        int best = Enumerable.Range(0, n).OrderByDescending(i => accuracies[i]).ThenBy(i => steps[i]).First();
        chosen.Add(best);
        int zero = Enumerable.Range(0, n).FirstOrDefault(i => steps[i] == 0, -1);
        if (zero >= 0) chosen.Add(zero);
        var sorted = accuracies.OrderBy(a => a).ToArray();
        double lo = sorted[1], hi = sorted[^1];
        int targets = k - chosen.Count;
        for (int t = 0; t < targets && chosen.Count < k; t++)
        {
            double target = targets == 1 ? (lo + hi) / 2 : lo + (hi - lo) * t / (targets - 1.0);
            int pick = Enumerable.Range(0, n).Where(i => !chosen.Contains(i))
                .OrderBy(i => Math.Abs(accuracies[i] - target)).ThenBy(i => steps[i]).First();
            chosen.Add(pick);
        }
        return chosen.OrderBy(i => accuracies[i]).ThenBy(i => steps[i]).ToArray();
    }
}

namespace MLNetExtensions.Transforms.Rlhf.QaFeedback;

/// <summary>
/// One answer with per-separator labels of one aspect: the noise-free oracle's and the annotated (noisy) ones the
/// reward model trains and is scored on. <c>true</c> = no error.
/// </summary>
public sealed record LabeledAnswer(QaExample Example, QaAnswer Answer, bool[] OracleLabels, bool[] NoisyLabels);

/// <summary>
/// A preference pair by completeness: <see cref="Chosen"/> is the annotated winner; <see cref="OracleAgrees"/> is false
/// where annotation noise flipped the oracle's order.
/// </summary>
public sealed record PreferencePair(QaExample Example, QaAnswer Chosen, QaAnswer Rejected, bool OracleAgrees);

/// <summary>
/// Builds the feedback data of note §7.1 from sampled answers (several per question, e.g. 4 from the SFT policy): every
/// separator labelled by the oracle, preference pairs by oracle completeness with ties dropped, then annotation noise
/// (each label or preference flipped with probability η), plus the secondary knobs (extra flip rate ρ, data fraction).
/// </summary>
public static class QaFeedbackData
{
    /// <summary>Per-separator labels of <paramref name="aspect"/> (relevance or factuality) with flips at rate <paramref name="flipRate"/>.</summary>
    public static IReadOnlyList<LabeledAnswer> LabelSentences(QaFeedbackAspect aspect,
        IEnumerable<(QaExample Example, QaAnswer Answer)> answers, double flipRate, int seed)
    {
        CheckRate(flipRate, nameof(flipRate));
        var rng = new Random(seed);
        var list = new List<LabeledAnswer>();
        foreach (var (ex, ans) in answers)
        {
            var oracle = QaFeedbackOracle.Labels(aspect, ex, ans);
            var noisy = oracle.Select(l => rng.NextDouble() < flipRate ? !l : l).ToArray();
            list.Add(new LabeledAnswer(ex, ans, oracle, noisy));
        }
        return list;
    }

    /// <summary>
    /// All pairs of the answers to each question (6 for 4 answers) ordered by oracle completeness, ties dropped, each
    /// preference flipped with probability <paramref name="flipRate"/>.
    /// </summary>
    public static IReadOnlyList<PreferencePair> PreferencePairs(IEnumerable<(QaExample Example, IReadOnlyList<QaAnswer> Answers)> groups,
        double flipRate, int seed)
    {
        CheckRate(flipRate, nameof(flipRate));
        var rng = new Random(seed);
        var list = new List<PreferencePair>();
        foreach (var (ex, answers) in groups)
            for (int i = 0; i < answers.Count; i++)
                for (int j = i + 1; j < answers.Count; j++)
                {
                    double ci = QaFeedbackOracle.Completeness(ex, answers[i]), cj = QaFeedbackOracle.Completeness(ex, answers[j]);
                    if (ci == cj) continue;
                    var (w, l) = ci > cj ? (answers[i], answers[j]) : (answers[j], answers[i]);
                    bool flip = rng.NextDouble() < flipRate;
                    list.Add(flip ? new PreferencePair(ex, l, w, false) : new PreferencePair(ex, w, l, true));
                }
        return list;
    }

    /// <summary>Flips the noisy labels again at rate ρ (the secondary "extra noise" knob; train data only).</summary>
    public static IReadOnlyList<LabeledAnswer> AddNoise(IReadOnlyList<LabeledAnswer> data, double rho, int seed)
    {
        CheckRate(rho, nameof(rho));
        var rng = new Random(seed);
        return data.Select(d => d with { NoisyLabels = d.NoisyLabels.Select(l => rng.NextDouble() < rho ? !l : l).ToArray() }).ToArray();
    }

    /// <summary>Swaps preferences at rate ρ (extra noise knob for the pairwise data).</summary>
    public static IReadOnlyList<PreferencePair> AddNoise(IReadOnlyList<PreferencePair> data, double rho, int seed)
    {
        CheckRate(rho, nameof(rho));
        var rng = new Random(seed);
        return data.Select(p => rng.NextDouble() < rho ? p with { Chosen = p.Rejected, Rejected = p.Chosen, OracleAgrees = !p.OracleAgrees } : p).ToArray();
    }

    /// <summary>A seeded subset holding the share <paramref name="fraction"/> (in (0, 1]) of the rows, at least one (data-fraction knob).</summary>
    public static IReadOnlyList<T> Fraction<T>(IReadOnlyList<T> data, double fraction, int seed)
    {
        if (!(fraction > 0 && fraction <= 1)) throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "QaFeedbackData.Fraction: fraction must be in (0, 1].");
        var idx = Enumerable.Range(0, data.Count).ToArray();
        QaFeedbackGenerator.Shuffle(idx, new Random(seed));
        int n = Math.Max(1, (int)Math.Round(fraction * data.Count));
        return idx.Take(n).OrderBy(i => i).Select(i => data[i]).ToArray();
    }

    private static void CheckRate(double p, string name)
    {
        if (!(p >= 0 && p < 0.5)) throw new ArgumentOutOfRangeException(name, p, $"QaFeedbackData: {name} must be in [0, 0.5).");
    }
}

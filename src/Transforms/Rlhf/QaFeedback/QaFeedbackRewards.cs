using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Transforms.Rlhf.Policy;
using MLNetExtensions.Transforms.Rlhf.Ppo;
using MLNetExtensions.Transforms.Rlhf.RewardModels;

namespace MLNetExtensions.Transforms.Rlhf.QaFeedback;

/// <summary>
/// PPO reward functions of the synthetic task, one aspect per run (note §4): from the noise-free oracle, or from a
/// fitted <see cref="TextRewardModelTransformer"/>. Relevance ±0.3 and factuality ±0.5 at each separator, completeness
/// ((s − μ)/σ)·0.3 at the end token.
/// </summary>
public static class QaFeedbackRewards
{
    /// <summary>The separator weight of an aspect.</summary>
    public static double Weight(QaFeedbackAspect aspect) => aspect switch
    {
        QaFeedbackAspect.Relevance => RewardPlacement.RelevanceWeight,
        QaFeedbackAspect.Factuality => RewardPlacement.FactualityWeight,
        _ => RewardPlacement.CompletenessScale,
    };

    /// <summary>
    /// The oracle as reward: per-separator oracle verdicts, or the oracle completeness normalised by
    /// (<paramref name="completenessMean"/>, <paramref name="completenessStd"/>) (e.g. over SFT samples).
    /// </summary>
    public static TokenRewardFunction Oracle(QaFeedbackAspect aspect, IReadOnlyList<QaExample> examples, QaFeedbackTaskOptions task,
        double completenessMean = 0, double completenessStd = 1) => (idx, responses) =>
    {
        var r = new float[responses.Count][];
        for (int i = 0; i < r.Length; i++)
        {
            var ex = examples[idx[i]];
            var ans = QaFeedbackText.Parse(responses[i].Text, task, responses[i].Stopped);
            r[i] = aspect == QaFeedbackAspect.Completeness
                ? RewardPlacement.AtEnd(responses[i].Tokens.Length, QaFeedbackOracle.Completeness(ex, ans), completenessMean, completenessStd)
                : RewardPlacement.AtSeparators(responses[i].Tokens, QaFeedbackOracle.Labels(aspect, ex, ans), Weight(aspect));
        }
        return r;
    };

    /// <summary>A fitted reward model as reward (its Score is already normalised for the preference kind).</summary>
    public static TokenRewardFunction FromRewardModel(MLContext ml, TextRewardModelTransformer model, QaFeedbackAspect aspect, IReadOnlyList<QaExample> examples)
    {
        IDataView Score(IReadOnlyList<int> idx, IReadOnlyList<GeneratedResponse> responses) => model.Transform(ml.Data.LoadFromEnumerable(
            idx.Select((p, i) => new ResponseRow { Prompt = examples[p].QuestionText, Context = examples[p].PassageText, Response = responses[i].Text }).ToList()));
        return aspect == QaFeedbackAspect.Completeness
            ? FromScores(aspect, (idx, responses) => Score(idx, responses).GetColumn<float>(model.Description.Outputs[0].Column).ToArray())
            : FromSentenceScores(aspect, (idx, responses) => Score(idx, responses).GetColumn<VBuffer<float>>(model.Description.Outputs[1].Column).Select(v => v.DenseValues().ToArray()).ToArray());
    }

    /// <summary>A reward model as reward through a <see cref="TextRewardScorer"/> (no data view; faster in the PPO loop).</summary>
    public static TokenRewardFunction FromScorer(TextRewardScorer scorer, QaFeedbackAspect aspect, IReadOnlyList<QaExample> examples)
    {
        (string, string, string)[] Rows(IReadOnlyList<int> idx, IReadOnlyList<GeneratedResponse> responses) =>
            idx.Select((p, i) => (examples[p].QuestionText, examples[p].PassageText, responses[i].Text)).ToArray();
        return aspect == QaFeedbackAspect.Completeness
            ? FromScores(aspect, (idx, responses) => scorer.Scores(Rows(idx, responses)))
            : FromSentenceScores(aspect, (idx, responses) => scorer.SentenceScores(Rows(idx, responses)));
    }

    /// <summary>Completeness: the normalised per-response score times the scale, at the end token.</summary>
    public static TokenRewardFunction FromScores(QaFeedbackAspect aspect, Func<IReadOnlyList<int>, IReadOnlyList<GeneratedResponse>, float[]> scores) => (idx, responses) =>
    {
        var s = scores(idx, responses);
        var r = new float[responses.Count][];
        for (int i = 0; i < r.Length; i++) r[i] = RewardPlacement.AtEnd(Math.Max(1, responses[i].Tokens.Length), s[i]);
        return r;
    };

    /// <summary>Relevance/factuality: ±weight at each separator by the verdict P(no error) ≥ 0.5.</summary>
    public static TokenRewardFunction FromSentenceScores(QaFeedbackAspect aspect, Func<IReadOnlyList<int>, IReadOnlyList<GeneratedResponse>, float[][]> sentenceScores) => (idx, responses) =>
    {
        var sentences = sentenceScores(idx, responses);
        var r = new float[responses.Count][];
        for (int i = 0; i < r.Length; i++)
        {
            // Separators beyond the model's response budget get no verdict: score them as "no reward" (0).
            var verdicts = sentences[i].Select(p => p >= 0.5f).ToList();
            r[i] = RewardPlacement.AtSeparators(responses[i].Tokens.Select((t, j) => t == Core.Text.TextTokenizer.SepId && CountBefore(responses[i].Tokens, j) >= verdicts.Count ? -1L : t).ToArray(), verdicts, Weight(aspect));
        }
        return r;
    };

    private static int CountBefore(long[] tokens, int j)
    {
        int c = 0;
        for (int k = 0; k < j; k++) if (tokens[k] == Core.Text.TextTokenizer.SepId) c++;
        return c;
    }
}

/// <summary>Oracle metrics of greedy answers (note §7.4).</summary>
public sealed record QaPolicyMetrics(double RelevanceRatio, double FactualityRatio, double Completeness, double MeanLength, double MeanSentences, double MalformedShare)
{
    /// <summary>The oracle metric of an aspect.</summary>
    public double Of(QaFeedbackAspect aspect) => aspect switch
    {
        QaFeedbackAspect.Relevance => RelevanceRatio,
        QaFeedbackAspect.Factuality => FactualityRatio,
        _ => Completeness,
    };
}

/// <summary>Evaluates a policy on the synthetic task with the oracle.</summary>
public static class QaFeedbackEvaluation
{
    /// <summary>Oracle metrics of responses: ratios pooled over sentences (as <c>aggregate_metrics</c>), completeness averaged.</summary>
    public static QaPolicyMetrics Metrics(IReadOnlyList<QaExample> examples, IReadOnlyList<GeneratedResponse> responses, QaFeedbackTaskOptions task)
    {
        long rel = 0, fact = 0, sentences = 0, malformed = 0; double comp = 0, len = 0;
        for (int i = 0; i < examples.Count; i++)
        {
            var ans = QaFeedbackText.Parse(responses[i].Text, task, responses[i].Stopped);
            rel += QaFeedbackOracle.Relevance(examples[i], ans).Count(x => x);
            fact += QaFeedbackOracle.Factuality(examples[i], ans).Count(x => x);
            sentences += ans.Sentences.Count;
            comp += QaFeedbackOracle.Completeness(examples[i], ans);
            len += responses[i].Tokens.Length;
            if (!ans.WellFormed) malformed++;
        }
        int n = examples.Count;
        return new QaPolicyMetrics(sentences == 0 ? 0 : rel / (double)sentences, sentences == 0 ? 0 : fact / (double)sentences, comp / n, len / n, sentences / (double)n, malformed / (double)n);
    }
}

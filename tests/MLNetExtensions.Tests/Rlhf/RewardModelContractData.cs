using Microsoft.ML;
using MLNetExtensions.Core.Text;
using MLNetExtensions.Estimators.Rlhf;
using MLNetExtensions.Transforms.Rlhf.QaFeedback;
using MLNetExtensions.Transforms.Rlhf.RewardModels;

namespace MLNetExtensions.Tests.Rlhf;

/// <summary>
/// Tiny synthetic QA-feedback data and small reward-model options for the contract suite (Contract/EstimatorRegistry):
/// fine-grained relevance labels (η = 0.15) on noisy-generator answers, and completeness preference pairs.
/// </summary>
public static class RewardModelContractData
{
    private static readonly QaFeedbackGenerator Generator = new();

    /// <summary>The task's tokenizer (built once; it is immutable).</summary>
    public static TextTokenizer Tokenizer { get; } = QaFeedbackText.CreateTokenizer(Generator.Options);

    /// <summary>Small trunk: d 16, 1 layer, 2 heads; 2 epochs of batch 8 (≥ 4 steps on 24 rows, the cancel test stops at step 3).</summary>
    public static TextRewardModelOptions Options(TextRewardModelKind kind) => new()
    {
        Kind = kind, Tokenizer = Tokenizer, IgnoreContext = kind == TextRewardModelKind.FineGrained, DModel = 16, Layers = 1, Heads = 2, FfnDim = 32,
        MaxEpochs = 2, BatchSize = 8, LearningRate = 1e-3,
    };

    /// <summary>Prompt, Context, Response, Labels (one per separator, 1 = error).</summary>
    public static IDataView FineGrained(MLContext ml, int rows, int seed) =>
        QaFeedbackRows.Load(ml, QaFeedbackRows.FineGrained(QaFeedbackData.LabelSentences(QaFeedbackAspect.Relevance, Generator.SftData(rows, seed), 0.15, seed + 1)).Take(rows));

    /// <summary>A preference row with the Response a fitted model scores (alternately the chosen and the rejected answer).</summary>
    public sealed class PreferenceRow
    {
        public string Prompt { get; set; } = "";
        public string Context { get; set; } = "";
        public string Chosen { get; set; } = "";
        public string Rejected { get; set; } = "";
        public string Response { get; set; } = "";
    }

    /// <summary>Prompt, Context, Chosen, Rejected (completeness pairs, η = 0.15) and Response.</summary>
    public static IDataView Preferences(MLContext ml, int rows, int seed)
    {
        var rng = new Random(seed);
        var groups = Generator.Questions(rows, seed).Select(q => (q, (IReadOnlyList<QaAnswer>)Enumerable.Range(0, 4).Select(_ => Generator.NoisyAnswer(q, rng)).ToArray()));
        var pairs = QaFeedbackData.PreferencePairs(groups, 0.15, seed + 1).Take(rows).ToList();
        if (pairs.Count < rows) throw new InvalidOperationException($"only {pairs.Count} preference pairs from {rows} questions");
        return QaFeedbackRows.Load(ml, pairs.Select((p, i) => new PreferenceRow
        {
            Prompt = p.Example.QuestionText, Context = p.Example.PassageText, Chosen = p.Chosen.Text, Rejected = p.Rejected.Text,
            Response = i % 2 == 0 ? p.Chosen.Text : p.Rejected.Text,
        }));
    }
}

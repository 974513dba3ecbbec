using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Transforms.Rlhf.QaFeedback;

/// <summary>A fine-grained feedback row: prompt (question), context (passage), response and one label per separator (1 = error).</summary>
public sealed class FineGrainedFeedbackRow
{
    /// <summary>Question text <c>Q: e A.. A..</c>.</summary>
    public string Prompt { get; set; } = "";
    /// <summary>Passage text <c>P: A0 V.. …</c>.</summary>
    public string Context { get; set; } = "";
    /// <summary>Answer sentences, each ended by <c>&lt;sep&gt;</c>.</summary>
    public string Response { get; set; } = "";
    /// <summary>Per-separator labels, 1 = error, 0 = no error.</summary>
    [VectorType] public float[] Labels { get; set; } = Array.Empty<float>();
}

/// <summary>A preference row: prompt, context, preferred and other response.</summary>
public sealed class PreferenceFeedbackRow
{
    /// <summary>Question text.</summary>
    public string Prompt { get; set; } = "";
    /// <summary>Passage text.</summary>
    public string Context { get; set; } = "";
    /// <summary>The annotated winner.</summary>
    public string Chosen { get; set; } = "";
    /// <summary>The other answer.</summary>
    public string Rejected { get; set; } = "";
}

/// <summary>A (prompt, context, response) row to score.</summary>
public sealed class ResponseRow
{
    /// <summary>Question text.</summary>
    public string Prompt { get; set; } = "";
    /// <summary>Passage text.</summary>
    public string Context { get; set; } = "";
    /// <summary>Answer text.</summary>
    public string Response { get; set; } = "";
}

/// <summary>The synthetic feedback as ML.NET data views for the reward-model trainers.</summary>
public static class QaFeedbackRows
{
    /// <summary>Rows of labelled answers; <paramref name="useOracle"/> takes the noise-free labels instead of the annotated ones.</summary>
    public static IEnumerable<FineGrainedFeedbackRow> FineGrained(IEnumerable<LabeledAnswer> data, bool useOracle = false) =>
        data.Where(d => d.Answer.Sentences.Count > 0).Select(d => new FineGrainedFeedbackRow
        {
            Prompt = d.Example.QuestionText, Context = d.Example.PassageText, Response = d.Answer.Text,
            Labels = (useOracle ? d.OracleLabels : d.NoisyLabels).Select(ok => ok ? 0f : 1f).ToArray(),
        });

    /// <summary>Rows of preference pairs.</summary>
    public static IEnumerable<PreferenceFeedbackRow> Preferences(IEnumerable<PreferencePair> data) =>
        data.Select(p => new PreferenceFeedbackRow { Prompt = p.Example.QuestionText, Context = p.Example.PassageText, Chosen = p.Chosen.Text, Rejected = p.Rejected.Text });

    /// <summary>Rows to score.</summary>
    public static IEnumerable<ResponseRow> Responses(IEnumerable<(QaExample Example, QaAnswer Answer)> data) =>
        data.Select(d => new ResponseRow { Prompt = d.Example.QuestionText, Context = d.Example.PassageText, Response = d.Answer.Text });

    /// <summary>A cached data view of rows.</summary>
    public static IDataView Load<T>(MLContext ml, IEnumerable<T> rows) where T : class => ml.Data.Cache(ml.Data.LoadFromEnumerable(rows.ToList()));
}

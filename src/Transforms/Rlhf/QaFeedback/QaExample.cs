namespace MLNetExtensions.Transforms.Rlhf.QaFeedback;

/// <summary>
/// One question of the synthetic QA-feedback-like task (note §7.1): an entity, a passage giving one value per attribute,
/// and the 2–4 attributes the question asks for (in question order).
/// </summary>
/// <param name="Entity">Entity index (E0..E{n−1}).</param>
/// <param name="PassageValues">Value index of every attribute: <c>PassageValues[k]</c> is the value of A_k.</param>
/// <param name="Asked">The asked attribute indices (distinct).</param>
public sealed record QaExample(int Entity, IReadOnlyList<int> PassageValues, IReadOnlyList<int> Asked)
{
    /// <summary>The question part of the prompt: <c>Q: e A.. A..</c>.</summary>
    public string QuestionText => "Q: " + QaFeedbackText.EntityWord(Entity) + " " + string.Join(" ", Asked.Select(QaFeedbackText.AttributeWord));

    /// <summary>The passage: <c>P: A0 V.. A1 V.. …</c>.</summary>
    public string PassageText => "P: " + string.Join(" ", PassageValues.Select((v, k) => QaFeedbackText.AttributeWord(k) + " " + QaFeedbackText.ValueWord(v)));

    /// <summary>The policy prompt (question, passage, then <c>A:</c> after which the answer is generated).</summary>
    public string PolicyPrompt => QuestionText + " " + PassageText + " A:";

    /// <summary>The relevance reward model's prompt: the question only, no passage (the paper's --ignore_context).</summary>
    public string PromptWithoutPassage => QuestionText + " A:";
}

/// <summary>One answer "sentence" <c>e A_k V_j &lt;sep&gt;</c>; a malformed segment has <see cref="WellFormed"/> false.</summary>
/// <param name="Entity">Entity index, −1 when malformed.</param>
/// <param name="Attribute">Attribute index, −1 when malformed.</param>
/// <param name="Value">Value index, −1 when malformed.</param>
/// <param name="WellFormed">Exactly the three words entity, attribute, value.</param>
public readonly record struct AnswerSentence(int Entity, int Attribute, int Value, bool WellFormed = true)
{
    /// <summary>A malformed segment (anything but <c>E A V</c> before a separator).</summary>
    public static AnswerSentence Malformed => new(-1, -1, -1, false);

    /// <summary>The sentence's words (without the separator).</summary>
    public string Text => QaFeedbackText.EntityWord(Entity) + " " + QaFeedbackText.AttributeWord(Attribute) + " " + QaFeedbackText.ValueWord(Value);
}

/// <summary>
/// A parsed answer: its separator-terminated sentences, whether words followed the last separator before the end (a
/// tail that earns no separator reward), and whether it ended with <c>&lt;eos&gt;</c>.
/// </summary>
public sealed record QaAnswer(IReadOnlyList<AnswerSentence> Sentences, bool HasTail = false, bool Ended = true)
{
    /// <summary>No malformed sentence, no tail, ended.</summary>
    public bool WellFormed => Ended && !HasTail && Sentences.All(s => s.WellFormed);

    /// <summary>The answer text <c>s1 &lt;sep&gt; s2 &lt;sep&gt; …</c> (eos is added by the tokenizer).</summary>
    public string Text => string.Join(" ", Sentences.Select(s => (s.WellFormed ? s.Text : "?") + " " + QaFeedbackText.Sep));
}

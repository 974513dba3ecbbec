using MLNetExtensions.Core.Text;

namespace MLNetExtensions.Transforms.Rlhf.QaFeedback;

/// <summary>
/// Words of the synthetic task (note §7.1): entities <c>E0..</c>, attributes <c>A0..</c>, values <c>V0..</c>, the prompt
/// markers <c>Q: P: A:</c>, and <c>&lt;sep&gt;</c> (the paper's <c>&lt;/s&gt;</c>) after every answer sentence. Parsing of
/// generated answers lives here too, so the oracle and the reward placement read answers the same way.
/// </summary>
public static class QaFeedbackText
{
    /// <summary>The sentence separator (the tokenizer's sep special token).</summary>
    public const string Sep = "<sep>";
    /// <summary>The end-of-answer token.</summary>
    public const string Eos = "<eos>";

    /// <summary><c>E{i}</c>.</summary>
    public static string EntityWord(int i) => "E" + i;
    /// <summary><c>A{i}</c>.</summary>
    public static string AttributeWord(int i) => "A" + i;
    /// <summary><c>V{i}</c>.</summary>
    public static string ValueWord(int i) => "V" + i;

    /// <summary>
    /// A tokenizer whose vocabulary is exactly the task's words (special tokens first, case kept), so every word is one
    /// token: the prompt is 2 + |S| + 2 + 2·attributes + 2 tokens long and each sentence 4 (with its separator).
    /// </summary>
    public static TextTokenizer CreateTokenizer(QaFeedbackTaskOptions options)
    {
        var tokOptions = new TextTokenizerOptions { LowerCase = false };
        var vocab = new List<string>(tokOptions.Special.InIdOrder());
        // The pre-tokenizer splits "Q:" into "Q" and ":", so those are the words.
        vocab.AddRange(new[] { "Q", "P", "A", ":", "?" });
        for (int i = 0; i < options.Entities; i++) vocab.Add(EntityWord(i));
        for (int i = 0; i < options.Attributes; i++) vocab.Add(AttributeWord(i));
        for (int i = 0; i < options.Values; i++) vocab.Add(ValueWord(i));
        return TextTokenizer.FromVocabulary(vocab, tokOptions);
    }

    /// <summary>
    /// Parses answer words (as decoded with the separator kept, or as written by <see cref="QaAnswer.Text"/>): every run
    /// of words ended by <c>&lt;sep&gt;</c> is a sentence, well formed only as <c>E.. A.. V..</c> with indices in range;
    /// words after the last separator make a tail. Parsing stops at <c>&lt;eos&gt;</c> when present;
    /// <paramref name="ended"/> says whether the generation stopped there.
    /// </summary>
    public static QaAnswer Parse(string answerText, QaFeedbackTaskOptions options, bool ended = true)
    {
        ArgumentNullException.ThrowIfNull(answerText);
        var sentences = new List<AnswerSentence>();
        var words = new List<string>();
        foreach (var w in answerText.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (w == Eos) { ended = true; break; }
            if (w == Sep) { sentences.Add(ParseSentence(words, options)); words.Clear(); }
            else words.Add(w);
        }
        return new QaAnswer(sentences, HasTail: words.Count > 0, Ended: ended);
    }

    private static AnswerSentence ParseSentence(List<string> w, QaFeedbackTaskOptions o)
    {
        if (w.Count != 3) return AnswerSentence.Malformed;
        if (TryIndex(w[0], 'E', o.Entities, out int e) && TryIndex(w[1], 'A', o.Attributes, out int a) && TryIndex(w[2], 'V', o.Values, out int v))
            return new AnswerSentence(e, a, v);
        return AnswerSentence.Malformed;
    }

    private static bool TryIndex(string word, char prefix, int count, out int index)
    {
        index = -1;
        return word.Length > 1 && word[0] == prefix && int.TryParse(word.AsSpan(1), System.Globalization.NumberStyles.None,
            System.Globalization.CultureInfo.InvariantCulture, out index) && index < count;
    }
}

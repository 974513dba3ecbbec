using System.Globalization;

namespace MLNetExtensions.Evaluators.Translation.Judge;

/// <summary>
/// Prompt templates of the judge, identified by <see cref="Id"/> and <see cref="Version"/> (both enter the cache key).
/// Placeholders: <c>{language}</c>, <c>{reference}</c>, <c>{translation}</c>, <c>{source}</c>,
/// <c>{translation_1}</c>, <c>{translation_2}</c>. The default profile implements the rubric of the
/// BLEUless_DocMT GPT-4 protocol in our own words.
/// </summary>
public sealed record JudgePromptProfile
{
    /// <summary>Template identifier.</summary>
    public required string Id { get; init; }
    /// <summary>Template version; bump it when the wording changes so cached answers are not reused.</summary>
    public required string Version { get; init; }
    /// <summary>Fluency prompt (target text only).</summary>
    public required string Fluency { get; init; }
    /// <summary>Accuracy prompt (reference and translation).</summary>
    public required string Accuracy { get; init; }
    /// <summary>Cohesion prompt (reference and translation).</summary>
    public required string Cohesion { get; init; }
    /// <summary>Pairwise prompt (reference and two translations).</summary>
    public required string Pairwise { get; init; }
    /// <summary>Block appended when the source-aware extension is on (not in the paper).</summary>
    public string SourceBlock { get; init; } = "\n\n### Source text (for context)\n{source}";
    /// <summary>Line appended on a re-ask after an unparsable answer.</summary>
    public string JsonReminder { get; init; } =
        "\n\nIMPORTANT: your previous answer could not be read. Reply with the JSON object only, exactly in the format above, with no other text.";

    /// <summary>The paper-equivalent profile: pointwise, document level, Fluency / Accuracy / Cohesion.</summary>
    public static JudgePromptProfile Paper { get; } = new()
    {
        Id = "docmt-judge",
        Version = "1",
        Fluency = """
            You are an expert reviewer of {language} texts. Rate the fluency of the {language} document below.

            Instructions:
            1. Judge only how natural, grammatical and readable the text is as {language}; do not judge its content.
            2. Use this scale:
               5 = reads naturally, with no grammatical errors, unnatural wording or stiff syntax;
               4 = mostly fluent, with small slips that do not hurt understanding;
               3 = moderately fluent, with noticeable errors that may slightly affect comprehension;
               2 = low fluency, with frequent errors that hinder understanding;
               1 = not fluent, with severe errors that make the text hard to understand.
            3. Support your score with concrete examples from the text.

            Reply with JSON in exactly this format:
            {"fluency": {"score": "<an integer from 1 to 5>", "explanation": "<short justification with examples>"}}

            ### Text to evaluate
            {translation}
            """,
        Accuracy = """
            You are an expert translation reviewer. Compare the translation below with the reference translation and list
            every accuracy mistake in the translation.

            Instructions:
            1. Use the reference translation as the ground truth for the content.
            2. Each mistake has one type:
               "wrong translation" - the meaning is changed or misinterpreted;
               "omission" - information in the reference is missing;
               "addition" - information that is not in the reference is added;
               "other" - any other accuracy problem.
            3. Different wording that keeps the same information is NOT a mistake.
            4. Summarise each mistake briefly; do not copy whole sentences.
            5. If there are no mistakes, return an empty list.

            Reply with JSON in exactly this format:
            {"accuracy_mistakes": [{"type": "<wrong translation|omission|addition|other>", "description": "<brief summary>"}]}

            ### Reference translation
            {reference}

            ### Translation to evaluate
            {translation}
            """,
        Cohesion = """
            You are an expert translation reviewer. Evaluate the cohesion of the translation below, using the reference
            translation as a guide. Cohesion is how the parts of a text are linked by grammatical and lexical devices so
            that the whole reads as one connected text.

            Instructions:
            1. Lexical cohesion mistakes: vocabulary problems that break the links between sentences, such as wrong or
               missing synonyms, inconsistent terms, or overuse and repetition of words that breaks the flow.
            2. Grammatical cohesion mistakes: problems with pronouns and reference, conjunctions and connectives, or
               other structures that link clauses and sentences.
            3. Summarise each mistake briefly. Either list may be empty.

            Reply with JSON in exactly this format:
            {"cohesion": {"lexical_cohesion_mistakes": ["<brief summary>"], "grammatical_cohesion_mistakes": ["<brief summary>"]}}

            ### Reference translation
            {reference}

            ### Translation to evaluate
            {translation}
            """,
        Pairwise = """
            You are an expert translation reviewer. Two translations of the same document into {language} are shown,
            together with a reference translation. Decide which translation is better overall, considering accuracy
            with respect to the reference, fluency, and cohesion across sentences. Answer "tie" only if they are
            truly equivalent.

            Reply with JSON in exactly this format:
            {"better": "<1|2|tie>", "reason": "<short justification>"}

            ### Reference translation
            {reference}

            ### Translation 1
            {translation_1}

            ### Translation 2
            {translation_2}
            """,
    };

    /// <summary>English name of a language given as a code ("de" → German) or already as a name.</summary>
    public static string LanguageName(string? language)
    {
        if (string.IsNullOrWhiteSpace(language)) return "the target language";
        if (language.Length <= 3 || language.Contains('-') || language.Contains('_'))
        {
            try
            {
                var ci = CultureInfo.GetCultureInfo(language.Replace('_', '-'));
                if (!string.IsNullOrEmpty(ci.EnglishName) && !ci.EnglishName.StartsWith("Unknown", StringComparison.Ordinal))
                    return ci.Parent is { Name.Length: > 0 } p && ci.Name.Contains('-') ? p.EnglishName : ci.EnglishName;
            }
            catch (CultureNotFoundException) { }
        }
        return language;
    }

    // One pass, so a document that itself contains "{reference}" is not expanded again.
    internal static string Fill(string template, IReadOnlyDictionary<string, string?> values) =>
        System.Text.RegularExpressions.Regex.Replace(template, @"\{([a-z_0-9]+)\}",
            m => values.TryGetValue(m.Groups[1].Value, out var v) ? v ?? "" : m.Value);
}

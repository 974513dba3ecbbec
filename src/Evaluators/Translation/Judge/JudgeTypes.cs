namespace MLNetExtensions.Evaluators.Translation.Judge;

/// <summary>The three judge prompts of the BLEUless_DocMT protocol.</summary>
public enum JudgeDimension
{
    /// <summary>Reference-free fluency score 1–5 (target text only).</summary>
    Fluency,
    /// <summary>Reference-based list of content (accuracy) errors: wrong translation, omission, addition, other.</summary>
    Accuracy,
    /// <summary>Reference-based lists of lexical and grammatical cohesion errors.</summary>
    Cohesion,
}

/// <summary>How a judge answer was obtained.</summary>
public enum JudgeStatus
{
    /// <summary>Valid JSON in the requested shape.</summary>
    Ok,
    /// <summary>JSON after repairs (raw newlines, inner quotes, trailing commas, fences, prose around it).</summary>
    Repaired,
    /// <summary>Not JSON; the values were recovered by pattern matching.</summary>
    RegexFallback,
    /// <summary>No usable answer after all retries (transport or parsing); see the error.</summary>
    Failed,
    /// <summary>Not judged because an input was missing (e.g. no reference for a reference-based dimension).</summary>
    Skipped,
}

/// <summary>One document translation to judge.</summary>
/// <param name="DocumentId">Document identifier (shared across systems).</param>
/// <param name="System">System (e.g. model × setting) that produced the translation.</param>
/// <param name="Hypothesis">The translated document.</param>
/// <param name="Reference">Reference translation; needed by Accuracy and Cohesion.</param>
/// <param name="Source">Source document; only used by the source-aware extension.</param>
/// <param name="TargetLanguage">Target language code or name (e.g. "zh", "German").</param>
public sealed record JudgeItem(string DocumentId, string System, string Hypothesis, string? Reference = null, string? Source = null, string? TargetLanguage = null);

/// <summary>One accuracy mistake.</summary>
/// <param name="Type">wrong, omission, addition or other.</param>
/// <param name="Text">The judge's description.</param>
public sealed record JudgeMistake(string Type, string Text);

/// <summary>The answer for one document on one dimension.</summary>
public sealed record JudgeVerdict
{
    /// <summary>Dimension judged.</summary>
    public required JudgeDimension Dimension { get; init; }
    /// <summary>How the answer was obtained.</summary>
    public required JudgeStatus Status { get; init; }
    /// <summary>Fluency score 1–5 (Fluency only).</summary>
    public double? Score { get; init; }
    /// <summary>Accuracy mistakes (Accuracy only).</summary>
    public IReadOnlyList<JudgeMistake>? ContentErrors { get; init; }
    /// <summary>Lexical cohesion mistakes (Cohesion only).</summary>
    public IReadOnlyList<string>? LexicalErrors { get; init; }
    /// <summary>Grammatical cohesion mistakes (Cohesion only).</summary>
    public IReadOnlyList<string>? GrammaticalErrors { get; init; }
    /// <summary>Counts when only counts could be recovered (regex fallback); otherwise the list lengths.</summary>
    public int? ContentErrorCount { get; init; }
    /// <summary>Lexical cohesion error count.</summary>
    public int? LexicalErrorCount { get; init; }
    /// <summary>Grammatical cohesion error count.</summary>
    public int? GrammaticalErrorCount { get; init; }
    /// <summary>The judge's justification, when given.</summary>
    public string? Explanation { get; init; }
    /// <summary>Raw text of the last response.</summary>
    public string? Raw { get; init; }
    /// <summary>HTTP attempts spent (0 when served from the cache).</summary>
    public int Attempts { get; init; }
    /// <summary>True when served from the on-disk cache.</summary>
    public bool FromCache { get; init; }
    /// <summary>Failure reason when <see cref="Status"/> is Failed or Skipped.</summary>
    public string? Error { get; init; }

    /// <summary>True when the verdict carries a usable value.</summary>
    public bool Succeeded => Status is JudgeStatus.Ok or JudgeStatus.Repaired or JudgeStatus.RegexFallback;
}

/// <summary>All dimensions for one document of one system.</summary>
/// <param name="Item">What was judged.</param>
/// <param name="Verdicts">One verdict per requested dimension.</param>
public sealed record DocumentJudgement(JudgeItem Item, IReadOnlyList<JudgeVerdict> Verdicts)
{
    private JudgeVerdict? Get(JudgeDimension d) => Verdicts.FirstOrDefault(v => v.Dimension == d && v.Succeeded);

    /// <summary>Fluency 1–5 (higher is better).</summary>
    public double? Fluency => Get(JudgeDimension.Fluency)?.Score;
    /// <summary>Content error count, CE (lower is better).</summary>
    public int? ContentErrors => Get(JudgeDimension.Accuracy)?.ContentErrorCount;
    /// <summary>Lexical cohesion error count, LE (lower is better).</summary>
    public int? LexicalErrors => Get(JudgeDimension.Cohesion)?.LexicalErrorCount;
    /// <summary>Grammatical cohesion error count, GE (lower is better).</summary>
    public int? GrammaticalErrors => Get(JudgeDimension.Cohesion)?.GrammaticalErrorCount;
    /// <summary>True when some requested dimension has no usable verdict.</summary>
    public bool HasFailures => Verdicts.Any(v => v.Status == JudgeStatus.Failed);
    /// <summary>Failure messages per dimension.</summary>
    public string? Errors => HasFailures ? string.Join("; ", Verdicts.Where(v => v.Status == JudgeStatus.Failed).Select(v => $"{v.Dimension}: {v.Error}")) : null;

    /// <summary>Content errors of one type (wrong, omission, addition, other).</summary>
    public int? ContentErrorsOfType(string type) =>
        Get(JudgeDimension.Accuracy)?.ContentErrors is { } list ? list.Count(m => m.Type == type) : null;
}

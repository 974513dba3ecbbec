namespace MLNetExtensions.Evaluators.Translation.Metrics.Tokenizers;

/// <summary>A sacreBLEU tokenizer: turns one segment into space-separated tokens.</summary>
public abstract class BleuTokenizer
{
    /// <summary>The name used in sacreBLEU signatures (<c>tok:13a</c>).</summary>
    public abstract string Signature { get; }

    /// <summary>Tokenizes one segment; the result is split on whitespace by the metric.</summary>
    public abstract string Tokenize(string line);

    /// <summary>Names accepted by <see cref="Create"/>.</summary>
    public static IReadOnlyList<string> Supported { get; } = new[] { "13a", "intl", "zh", "char", "none" };

    /// <summary>Creates the tokenizer named as in sacreBLEU (<c>13a</c>, <c>intl</c>, <c>zh</c>, <c>char</c>, <c>none</c>).</summary>
    public static BleuTokenizer Create(string name) => name switch
    {
        "13a" => new Tokenizer13a(),
        "intl" => new TokenizerIntl(),
        "zh" => new TokenizerZh(),
        "char" => new TokenizerChar(),
        "none" => new TokenizerNone(),
        "ja-mecab" or "ko-mecab" or "spm" or "flores101" or "flores200" or "spBLEU-1K" => throw new NotSupportedException(
            $"BLEU tokenizer '{name}' needs an external model (MeCab or SentencePiece) and is not available; use one of {string.Join(", ", Supported)}."),
        _ => throw new ArgumentException($"Unknown BLEU tokenizer '{name}'; expected one of {string.Join(", ", Supported)}.", nameof(name)),
    };

    /// <summary>sacreBLEU's default for a target language: <c>zh</c> for Chinese, otherwise <c>13a</c>.</summary>
    public static string DefaultFor(string? targetLanguage) =>
        targetLanguage is not null && targetLanguage.StartsWith("zh", StringComparison.OrdinalIgnoreCase) ? "zh" : "13a";
}

/// <summary>Identity tokenizer (<c>tok:none</c>).</summary>
public sealed class TokenizerNone : BleuTokenizer
{
    /// <inheritdoc/>
    public override string Signature => "none";
    /// <inheritdoc/>
    public override string Tokenize(string line) => line;
}

/// <summary>One token per Unicode code point (<c>tok:char</c>).</summary>
public sealed class TokenizerChar : BleuTokenizer
{
    /// <inheritdoc/>
    public override string Signature => "char";
    /// <inheritdoc/>
    public override string Tokenize(string line)
    {
        var cps = PyText.CodePoints(line);
        var sb = new System.Text.StringBuilder(line.Length * 2);
        for (int i = 0; i < cps.Length; i++)
        {
            if (i > 0) sb.Append(' ');
            PyText.AppendCodePoint(sb, cps[i]);
        }
        return sb.ToString();
    }
}

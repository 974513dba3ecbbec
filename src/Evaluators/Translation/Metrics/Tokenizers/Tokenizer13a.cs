using System.Text.RegularExpressions;

namespace MLNetExtensions.Evaluators.Translation.Metrics.Tokenizers;

/// <summary>mteval-v13a-compatible tokenizer, sacreBLEU's default (<c>tok:13a</c>).</summary>
public sealed partial class Tokenizer13a : BleuTokenizer
{
    /// <inheritdoc/>
    public override string Signature => "13a";

    /// <inheritdoc/>
    public override string Tokenize(string line)
    {
        line = line.Replace("<skipped>", "").Replace("-\n", "").Replace("\n", " ");
        if (line.Contains('&'))
        {
            // Order matters and is sacreBLEU's: "&amp;lt;" ends up as "<".
            line = line.Replace("&quot;", "\"").Replace("&amp;", "&").Replace("&lt;", "<").Replace("&gt;", ">");
        }
        // The padding is why a sentence-final period after a digit is split here but not by 'zh'.
        return PostTokenize(" " + line + " ");
    }

    // The four language-independent substitutions shared with 'zh'. They only test ASCII, so matching on
    // UTF-16 units gives the same output as Python's code-point matching (surrogates never sit next to a split).
    [GeneratedRegex(@"([\{-\~\[-\` -\&\(-\+\:-\@\/])", RegexOptions.CultureInvariant)]
    private static partial Regex Punct();
    [GeneratedRegex(@"([^0-9])([\.,])", RegexOptions.CultureInvariant)]
    private static partial Regex PeriodAfterNonDigit();
    [GeneratedRegex(@"([\.,])([^0-9])", RegexOptions.CultureInvariant)]
    private static partial Regex PeriodBeforeNonDigit();
    [GeneratedRegex(@"([0-9])(-)", RegexOptions.CultureInvariant)]
    private static partial Regex DashAfterDigit();

    internal static string PostTokenize(string line)
    {
        line = Punct().Replace(line, " $1 ");
        line = PeriodAfterNonDigit().Replace(line, "$1 $2 ");
        line = PeriodBeforeNonDigit().Replace(line, " $1 $2");
        line = DashAfterDigit().Replace(line, "$1 $2 ");
        return PyText.CollapseWhiteSpace(line);
    }
}

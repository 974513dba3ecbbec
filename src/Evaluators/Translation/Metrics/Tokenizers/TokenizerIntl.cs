using System.Globalization;
using System.Text;

namespace MLNetExtensions.Evaluators.Translation.Metrics.Tokenizers;

/// <summary>
/// mteval-v14 international tokenizer (<c>tok:intl</c>): splits Unicode punctuation except between digits and
/// every symbol. Implemented over code points (a .NET regex would see surrogate halves, not emoji symbols).
/// </summary>
public sealed class TokenizerIntl : BleuTokenizer
{
    /// <inheritdoc/>
    public override string Signature => "intl";

    private static bool IsP(int c) => PyText.Category(c) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
        or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
        or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;

    private static bool IsS(int c) => PyText.Category(c) is UnicodeCategory.MathSymbol or UnicodeCategory.CurrencySymbol
        or UnicodeCategory.ModifierSymbol or UnicodeCategory.OtherSymbol;

    private static bool IsN(int c) => PyText.Category(c) is UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber
        or UnicodeCategory.OtherNumber;

    /// <inheritdoc/>
    public override string Tokenize(string line)
    {
        // Each pass mirrors one leftmost, non-overlapping two-character regex substitution.
        var cps = PyText.CodePoints(line);
        // (\P{N})(\p{P}) -> "\1 \2 "
        cps = Pass(cps, (a, b) => !IsN(a) && IsP(b), (o, a, b) => { o.Add(a); o.Add(' '); o.Add(b); o.Add(' '); });
        // (\p{P})(\P{N}) -> " \1 \2"
        cps = Pass(cps, (a, b) => IsP(a) && !IsN(b), (o, a, b) => { o.Add(' '); o.Add(a); o.Add(' '); o.Add(b); });
        // (\p{S}) -> " \1 "
        var sb = new StringBuilder(cps.Length * 2);
        foreach (var c in cps)
        {
            if (IsS(c)) { sb.Append(' '); PyText.AppendCodePoint(sb, c); sb.Append(' '); }
            else PyText.AppendCodePoint(sb, c);
        }
        return PyText.CollapseWhiteSpace(sb.ToString());
    }

    private static int[] Pass(int[] s, Func<int, int, bool> match, Action<List<int>, int, int> emit)
    {
        var o = new List<int>(s.Length + 8);
        int i = 0;
        while (i < s.Length)
        {
            if (i + 1 < s.Length && match(s[i], s[i + 1])) { emit(o, s[i], s[i + 1]); i += 2; }
            else o.Add(s[i++]);
        }
        return o.ToArray();
    }
}

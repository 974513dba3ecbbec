using System.Text;

namespace MLNetExtensions.Evaluators.Translation.Translate;

/// <summary>
/// Rule-based sentence splitter for realigning model output: breaks after . ! ? … (and CJK 。！？) followed by
/// whitespace or a closing quote/bracket, and at line breaks; keeps common abbreviations, initials and decimals whole.
/// </summary>
public static class SentenceSplitter
{
    private static readonly HashSet<string> Abbreviations = new(StringComparer.OrdinalIgnoreCase)
    {
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "no", "fig", "inc", "ltd", "co", "corp",
        "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k", "z.b", "bzw", "usw", "ca", "nr", "dt",
    };

    private static bool IsCjkTerminal(char c) => c is '。' or '！' or '？' or '；';
    private static bool IsTerminal(char c) => c is '.' or '!' or '?' or '…' || IsCjkTerminal(c);
    private static bool IsCloser(char c) => c is '"' or '\'' or ')' or ']' or '»' or '”' or '’' or '」' or '』' or '）';

    /// <summary>Splits <paramref name="text"/> into trimmed, non-empty sentences.</summary>
    public static IReadOnlyList<string> Split(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var result = new List<string>();
        var current = new StringBuilder();
        void Flush()
        {
            var s = current.ToString().Trim();
            if (s.Length > 0) result.Add(s);
            current.Clear();
        }
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c is '\n' or '\r') { Flush(); continue; }
            current.Append(c);
            if (!IsTerminal(c)) continue;
            // Absorb runs of terminals and closing quotes/brackets: 'He said "no!"' ends after the quote.
            while (i + 1 < text.Length && (IsTerminal(text[i + 1]) || IsCloser(text[i + 1]))) current.Append(text[++i]);
            bool atEnd = i + 1 >= text.Length;
            bool spaceNext = !atEnd && char.IsWhiteSpace(text[i + 1]);
            if (IsCjkTerminal(c) || atEnd) { Flush(); continue; }
            if (!spaceNext) continue;                                        // 3.14, e.g.x, U.S.A
            if (c == '.' && IsAbbreviation(current)) continue;
            int j = i + 1;
            while (j < text.Length && char.IsWhiteSpace(text[j]) && text[j] is not '\n') j++;
            // A lower-case continuation after a period is usually not a new sentence ("approx. five").
            if (c == '.' && j < text.Length && char.IsLower(text[j])) continue;
            Flush();
        }
        Flush();
        return result;
    }

    private static bool IsAbbreviation(StringBuilder sb)
    {
        var s = sb.ToString().TrimEnd('.');
        int k = s.Length - 1;
        while (k >= 0 && !char.IsWhiteSpace(s[k]) && s[k] is not '(' and not '"') k--;
        var word = s[(k + 1)..];
        if (word.Length == 1 && char.IsUpper(word[0])) return true;        // initials: "J. Smith"
        return Abbreviations.Contains(word);
    }
}

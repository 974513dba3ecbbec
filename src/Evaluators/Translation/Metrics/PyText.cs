using System.Globalization;
using System.Text;

namespace MLNetExtensions.Evaluators.Translation.Metrics;

/// <summary>
/// Python <c>str</c> semantics that sacreBLEU relies on and .NET does not share:
/// the whitespace set of <c>str.split()</c>/<c>strip()</c>, code-point (not UTF-16) iteration and the full
/// Unicode lower-case mapping of <c>str.lower()</c>.
/// </summary>
internal static class PyText
{
    /// <summary>Python's <c>str.isspace()</c> set; unlike <see cref="char.IsWhiteSpace(char)"/> it includes U+001C–U+001F.</summary>
    public static bool IsWhiteSpace(int c) =>
        c is >= 0x09 and <= 0x0D or >= 0x1C and <= 0x20 or 0x85 or 0xA0 or 0x1680
          or >= 0x2000 and <= 0x200A or 0x2028 or 0x2029 or 0x202F or 0x205F or 0x3000;

    /// <summary><c>str.split()</c> with no argument: runs of whitespace separate, ends are dropped.</summary>
    public static List<string> Split(string s)
    {
        var parts = new List<string>();
        int start = -1;
        for (int i = 0; i < s.Length; i++)
        {
            // Every Python whitespace character is in the BMP, so UTF-16 scanning is exact here.
            if (IsWhiteSpace(s[i]))
            {
                if (start >= 0) { parts.Add(s.Substring(start, i - start)); start = -1; }
            }
            else if (start < 0) start = i;
        }
        if (start >= 0) parts.Add(s.Substring(start));
        return parts;
    }

    /// <summary><c>' '.join(s.split())</c>.</summary>
    public static string CollapseWhiteSpace(string s) => string.Join(' ', Split(s));

    /// <summary><c>''.join(s.split())</c>.</summary>
    public static string RemoveWhiteSpace(string s) => string.Concat(Split(s));

    public static string RStrip(string s)
    {
        int end = s.Length;
        while (end > 0 && IsWhiteSpace(s[end - 1])) end--;
        return end == s.Length ? s : s.Substring(0, end);
    }

    public static string Strip(string s)
    {
        int start = 0, end = s.Length;
        while (start < end && IsWhiteSpace(s[start])) start++;
        while (end > start && IsWhiteSpace(s[end - 1])) end--;
        return s.Substring(start, end - start);
    }

    /// <summary>Code points of <paramref name="s"/>; a lone surrogate is kept as its own value, as Python would.</summary>
    public static int[] CodePoints(string s)
    {
        var cps = new List<int>(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                cps.Add(char.ConvertToUtf32(c, s[i + 1]));
                i++;
            }
            else cps.Add(c);
        }
        return cps.ToArray();
    }

    public static void AppendCodePoint(StringBuilder sb, int cp)
    {
        if (cp >= 0x10000) sb.Append(char.ConvertFromUtf32(cp));
        else sb.Append((char)cp);
    }

    public static string FromCodePoints(ReadOnlySpan<int> cps)
    {
        var sb = new StringBuilder(cps.Length);
        foreach (var cp in cps) AppendCodePoint(sb, cp);
        return sb.ToString();
    }

    /// <summary>Length in code points (Python <c>len</c>).</summary>
    public static int Length(string s)
    {
        int n = 0;
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) i++;
            n++;
        }
        return n;
    }

    public static UnicodeCategory Category(int cp) =>
        cp is >= 0xD800 and <= 0xDFFF ? UnicodeCategory.Surrogate : CharUnicodeInfo.GetUnicodeCategory(cp);

    /// <summary>
    /// Python <c>str.lower()</c>: full case mapping. Differs from per-char <c>ToLowerInvariant</c> on U+0130
    /// (→ "i̇", two code points) and on capital sigma at a word end (→ final ς).
    /// </summary>
    public static string Lower(string s)
    {
        var cps = CodePoints(s);
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < cps.Length; i++)
        {
            int c = cps[i];
            if (c == 0x130) { sb.Append('i').Append('\u0307'); continue; }
            if (c == 0x3A3) { sb.Append(IsFinalSigma(cps, i) ? 'ς' : 'σ'); continue; }
            if (c is >= 0xD800 and <= 0xDFFF) { sb.Append((char)c); continue; }
            AppendCodePoint(sb, Rune.ToLowerInvariant(new Rune(c)).Value);
        }
        return sb.ToString();
    }

    // Unicode Final_Sigma context, as CPython's handle_capital_sigma: \p{cased}\p{case-ignorable}* Σ !(\p{case-ignorable}* \p{cased}).
    private static bool IsFinalSigma(int[] cps, int i)
    {
        int j = i - 1;
        while (j >= 0 && IsCaseIgnorable(cps[j])) j--;
        if (j < 0 || !IsCased(cps[j])) return false;
        j = i + 1;
        while (j < cps.Length && IsCaseIgnorable(cps[j])) j++;
        return j == cps.Length || !IsCased(cps[j]);
    }

    private static bool IsCased(int c)
    {
        var cat = Category(c);
        return cat is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            || c is 0xAA or 0xBA or >= 0x2B0 and <= 0x2B8 or >= 0x2C0 and <= 0x2C1 or >= 0x2E0 and <= 0x2E4 or 0x345
                 or >= 0x2160 and <= 0x217F or >= 0x24B6 and <= 0x24E9;
    }

    private static bool IsCaseIgnorable(int c)
    {
        var cat = Category(c);
        return cat is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark or UnicodeCategory.Format
                   or UnicodeCategory.ModifierLetter or UnicodeCategory.ModifierSymbol
            // Word_Break = MidLetter / MidNumLet / Single_Quote
            || c is 0x27 or 0x2E or 0x3A or 0xB7 or 0x387 or 0x55F or 0x5F4 or 0x2018 or 0x2019 or 0x2024 or 0x2027
                 or 0xFE13 or 0xFE52 or 0xFE55 or 0xFF07 or 0xFF0E or 0xFF1A;
    }
}

using System.Text;

namespace MLNetExtensions.Evaluators.Translation.Metrics.Tokenizers;

/// <summary>sacreBLEU's Chinese tokenizer (<c>tok:zh</c>): every CJK character is a token, the rest as 13a.</summary>
public sealed class TokenizerZh : BleuTokenizer
{
    // sacreBLEU's table as Python actually evaluates it. The Ext-B / compatibility-supplement rows are written
    // with 5-hex-digit "\u" escapes, i.e. two-character strings, so a one-character comparison yields
    // U+2001–U+2A6D and U+2F81–U+2FA1 instead (this splits “ ” — … € and arrows); non-BMP ideographs are not split.
    private static readonly (int Lo, int Hi)[] Ranges =
    {
        (0x3400, 0x4DB5), (0x4E00, 0x9FA5), (0x9FA6, 0x9FBB), (0xF900, 0xFA2D), (0xFA30, 0xFA6A), (0xFA70, 0xFAD9),
        (0x2001, 0x2A6D), (0x2F81, 0x2FA1),
        (0xFF00, 0xFFEF), (0x2E80, 0x2EFF), (0x3000, 0x303F), (0x31C0, 0x31EF), (0x2F00, 0x2FDF), (0x2FF0, 0x2FFF),
        (0x3100, 0x312F), (0x31A0, 0x31BF), (0xFE10, 0xFE1F), (0xFE30, 0xFE4F), (0x2600, 0x26FF), (0x2700, 0x27BF),
        (0x3200, 0x32FF), (0x3300, 0x33FF),
    };

    /// <inheritdoc/>
    public override string Signature => "zh";

    internal static bool IsChineseChar(int cp)
    {
        foreach (var (lo, hi) in Ranges)
            if (cp >= lo && cp <= hi) return true;
        return false;
    }

    /// <inheritdoc/>
    public override string Tokenize(string line)
    {
        var sb = new StringBuilder(line.Length * 2);
        foreach (var cp in PyText.CodePoints(PyText.Strip(line)))
        {
            if (IsChineseChar(cp)) sb.Append(' ').Append((char)cp).Append(' '); // all ranges are in the BMP
            else PyText.AppendCodePoint(sb, cp);
        }
        // No padding and no entity unescaping here, unlike 13a.
        return Tokenizer13a.PostTokenize(sb.ToString());
    }
}

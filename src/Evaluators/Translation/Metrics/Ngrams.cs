namespace MLNetExtensions.Evaluators.Translation.Metrics;

/// <summary>Word and character n-gram counting shared by BLEU and chrF.</summary>
internal static class Ngrams
{
    // Tokens never contain whitespace, so a single space is an unambiguous separator and n = spaces + 1.
    public static Dictionary<string, int> Words(IReadOnlyList<string> tokens, int maxOrder, int minOrder = 1)
    {
        var d = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int n = minOrder; n <= maxOrder; n++)
            for (int i = 0; i + n <= tokens.Count; i++)
            {
                var key = n == 1 ? tokens[i] : string.Join(' ', tokens.Skip(i).Take(n));
                d[key] = d.GetValueOrDefault(key) + 1;
            }
        return d;
    }

    public static int Order(string wordNgram)
    {
        int n = 1;
        foreach (var ch in wordNgram) if (ch == ' ') n++;
        return n;
    }

    /// <summary>Character n-grams of one order over Unicode code points (Python string slicing).</summary>
    public static Dictionary<string, int> Chars(string line, int[] boundaries, int n)
    {
        // boundaries[i] = UTF-16 index of code point i; boundaries[^1] = line.Length.
        var d = new Dictionary<string, int>(StringComparer.Ordinal);
        int cps = boundaries.Length - 1;
        for (int i = 0; i + n <= cps; i++)
        {
            var key = line.Substring(boundaries[i], boundaries[i + n] - boundaries[i]);
            d[key] = d.GetValueOrDefault(key) + 1;
        }
        return d;
    }

    public static int[] CodePointBoundaries(string s)
    {
        var b = new List<int>(s.Length + 1);
        for (int i = 0; i < s.Length; i++)
        {
            b.Add(i);
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) i++;
        }
        b.Add(s.Length);
        return b.ToArray();
    }
}

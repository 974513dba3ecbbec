namespace MLNetExtensions.Evaluators.Translation.Metrics;

/// <summary>
/// Joins sentence-level streams into one line per document, as the released BLEUless_DocMT files do:
/// a space between sentences for languages written with spaces, nothing for Chinese and Japanese.
/// </summary>
public static class DocumentAssembler
{
    /// <summary>Separator for a target language: "" for zh/ja, otherwise " ".</summary>
    public static string SeparatorFor(string? language) =>
        language is not null && (language.StartsWith("zh", StringComparison.OrdinalIgnoreCase) || language.StartsWith("ja", StringComparison.OrdinalIgnoreCase)) ? "" : " ";

    /// <summary>Groups consecutive sentences with equal document id into documents, in first-seen order.</summary>
    public static IReadOnlyList<string> Join(IReadOnlyList<string> sentences, IReadOnlyList<string> documentIds, string? targetLanguage = null)
    {
        if (sentences.Count != documentIds.Count)
            throw new ArgumentException($"Expected one document id per sentence; got {sentences.Count} sentences and {documentIds.Count} ids.");
        var sep = SeparatorFor(targetLanguage);
        var order = new List<string>();
        var parts = new Dictionary<string, List<string>>();
        for (int i = 0; i < sentences.Count; i++)
        {
            if (!parts.TryGetValue(documentIds[i], out var list)) { parts[documentIds[i]] = list = new(); order.Add(documentIds[i]); }
            list.Add(Clean(sentences[i]));
        }
        return order.Select(id => string.Join(sep, parts[id].Where(s => s.Length > 0))).ToArray();
    }

    /// <summary>Joins the translated chunks of one document (ST[k] output) into one line.</summary>
    public static string JoinChunks(IEnumerable<string> chunks, string? targetLanguage = null) =>
        string.Join(SeparatorFor(targetLanguage), chunks.Select(Clean).Where(s => s.Length > 0));

    /// <summary>Splits a list of sentences into chunks of <paramref name="k"/> consecutive sentences (ST[k]).</summary>
    public static IReadOnlyList<IReadOnlyList<string>> Chunk(IReadOnlyList<string> sentences, int k)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        var chunks = new List<IReadOnlyList<string>>();
        for (int i = 0; i < sentences.Count; i += k) chunks.Add(sentences.Skip(i).Take(k).ToArray());
        return chunks;
    }

    // Model output newlines become spaces so that each document stays one line (as inference.py does).
    private static string Clean(string s) => PyText.CollapseWhiteSpace(s.Replace('\n', ' ').Replace('\r', ' '));
}

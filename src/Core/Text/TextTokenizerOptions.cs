namespace MLNetExtensions.Core.Text;

/// <summary>Which end of a too-long token sequence is cut off.</summary>
public enum TruncationSide
{
    /// <summary>Keep the head, drop tokens from the end (classification, reward scoring).</summary>
    Right,
    /// <summary>Keep the tail, drop tokens from the start (prompts for generation: the most recent context wins).</summary>
    Left,
}

/// <summary>Which end of a short sequence receives the pad tokens in a batch.</summary>
public enum PaddingSide
{
    /// <summary>Pads after the tokens (training, scoring).</summary>
    Right,
    /// <summary>Pads before the tokens (batched generation: every row's last token is at the same position).</summary>
    Left,
}

/// <summary>
/// The special token strings of a <see cref="TextTokenizer"/>. Their ids are fixed by position: pad = 0, unk = 1,
/// bos = 2, eos = 3, sep = 4, image = 5; ordinary tokens follow from id 6. Each is matched as a whole in the input
/// text (never split by the pre-tokenizer).
/// </summary>
public sealed record SpecialTokens
{
    /// <summary>Padding token (id 0).</summary>
    public string Pad { get; init; } = "<pad>";
    /// <summary>Unknown token (id 1): every word outside the vocabulary maps to it.</summary>
    public string Unknown { get; init; } = "<unk>";
    /// <summary>Beginning of sequence (id 2).</summary>
    public string Bos { get; init; } = "<bos>";
    /// <summary>End of sequence (id 3); decoding stops at it.</summary>
    public string Eos { get; init; } = "<eos>";
    /// <summary>Separator (id 4), e.g. the sentence end of the fine-grained reward models.</summary>
    public string Sep { get; init; } = "<sep>";
    /// <summary>Image placeholder (id 5): a VLM splices its projected vision tokens in its place.</summary>
    public string Image { get; init; } = "<image>";

    /// <summary>The six strings in id order.</summary>
    public IReadOnlyList<string> InIdOrder() => new[] { Pad, Unknown, Bos, Eos, Sep, Image };
}

/// <summary>How <see cref="TextTokenizer.Train"/> builds the vocabulary from a corpus.</summary>
public sealed record TextTokenizerOptions
{
    /// <summary>Largest vocabulary, special tokens included (default 8192).</summary>
    public int MaxVocabularySize { get; init; } = 8192;

    /// <summary>A word enters the vocabulary only if it occurs at least this often in the corpus (default 1).</summary>
    public int MinFrequency { get; init; } = 1;

    /// <summary>Lower-case the text before splitting (for training and encoding alike). Default true.</summary>
    public bool LowerCase { get; init; } = true;

    /// <summary>
    /// Adds every character of the corpus as a word-start piece and as a continuation piece (<c>##c</c>), so a word
    /// outside the vocabulary is spelled out in characters (WordPiece) instead of becoming the unknown token.
    /// Default false: unknown words map to <see cref="SpecialTokens.Unknown"/>.
    /// </summary>
    public bool CharacterFallback { get; init; }

    /// <summary>Words longer than this many characters map to the unknown token (default 100).</summary>
    public int MaxInputCharsPerWord { get; init; } = 100;

    /// <summary>The special token strings.</summary>
    public SpecialTokens Special { get; init; } = new();

    /// <summary>Throws naming the first invalid setting.</summary>
    public void Validate()
    {
        var special = Special ?? throw new ArgumentException("TextTokenizerOptions.Special must not be null.");
        var list = special.InIdOrder();
        for (int i = 0; i < list.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(list[i]))
                throw new ArgumentException($"TextTokenizerOptions.Special: special token #{i} is empty; every special token needs a non-blank string.");
            if (list[i].Any(char.IsWhiteSpace))
                throw new ArgumentException($"TextTokenizerOptions.Special: special token '{list[i]}' contains white space.");
            if (LowerCase && list[i] != list[i].ToLowerInvariant())
                throw new ArgumentException($"TextTokenizerOptions.Special: special token '{list[i]}' has upper-case letters but LowerCase is on, so it could never match the lower-cased text.");
        }
        if (list.Distinct(StringComparer.Ordinal).Count() != list.Count)
            throw new ArgumentException($"TextTokenizerOptions.Special: the special tokens must be distinct, got [{string.Join(", ", list)}].");
        if (MaxVocabularySize <= list.Count)
            throw new ArgumentOutOfRangeException(nameof(MaxVocabularySize), MaxVocabularySize, $"TextTokenizerOptions.MaxVocabularySize must exceed the {list.Count} special tokens.");
        if (MinFrequency < 1)
            throw new ArgumentOutOfRangeException(nameof(MinFrequency), MinFrequency, "TextTokenizerOptions.MinFrequency must be at least 1.");
        if (MaxInputCharsPerWord < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxInputCharsPerWord), MaxInputCharsPerWord, "TextTokenizerOptions.MaxInputCharsPerWord must be at least 1.");
    }
}

/// <summary>One encoded text: int64 ids, the attention mask (1 for every real token) and the token count.</summary>
/// <param name="Ids">Token ids, length <see cref="Length"/> (no padding).</param>
/// <param name="AttentionMask">All ones, same length as <see cref="Ids"/>.</param>
/// <param name="Length">Number of tokens.</param>
/// <param name="Truncated">True when tokens were dropped to respect the maximum length.</param>
public sealed record EncodedText(long[] Ids, long[] AttentionMask, int Length, bool Truncated);

/// <summary>
/// A padded batch: row-major (BatchSize × SequenceLength) ids and attention mask (1 = real token, 0 = pad), plus each
/// row's real length. Ready for <c>torch.tensor(Ids, new[]{BatchSize, SequenceLength})</c>.
/// </summary>
public sealed record EncodedBatch(long[] Ids, long[] AttentionMask, int[] Lengths, int BatchSize, int SequenceLength, PaddingSide Padding)
{
    /// <summary>Row <paramref name="row"/>'s ids without padding.</summary>
    public long[] RowIds(int row)
    {
        if ((uint)row >= (uint)BatchSize) throw new ArgumentOutOfRangeException(nameof(row), row, $"EncodedBatch has {BatchSize} rows.");
        int start = row * SequenceLength + (Padding == PaddingSide.Left ? SequenceLength - Lengths[row] : 0);
        return Ids.AsSpan(start, Lengths[row]).ToArray();
    }
}

using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML.Tokenizers;

namespace MLNetExtensions.Core.Text;

/// <summary>
/// A tokenizer a component owns and saves with its model. The vocabulary is built from the training text
/// (<see cref="Train"/>: word level, size cap, minimum frequency, deterministic order) and materialised as a
/// <see cref="WordPieceTokenizer"/> of Microsoft.ML.Tokenizers created from the generated vocabulary stream.
/// Pre-tokenisation is <see cref="PreTokenizer.CreateWordOrNonWord"/> (runs of word characters, runs of other
/// non-space characters) with the special tokens matched whole first; optional lower-casing.
/// <para>Ids: pad 0, unk 1, bos 2, eos 3, sep 4, image 5, then (with <see cref="TextTokenizerOptions.CharacterFallback"/>)
/// the characters, then words by descending corpus count, ties by ordinal string order.</para>
/// <para><see cref="ToBytes"/>/<see cref="FromBytes"/> carry vocabulary and settings as a versioned, SHA-256-checked
/// payload, so a model zip can rebuild the identical tokenizer.</para>
/// </summary>
public sealed class TextTokenizer
{
    /// <summary>Id of the pad token.</summary>
    public const int PadId = 0;
    /// <summary>Id of the unknown token.</summary>
    public const int UnknownId = 1;
    /// <summary>Id of the beginning-of-sequence token.</summary>
    public const int BosId = 2;
    /// <summary>Id of the end-of-sequence token.</summary>
    public const int EosId = 3;
    /// <summary>Id of the separator token.</summary>
    public const int SepId = 4;
    /// <summary>Id of the image placeholder token.</summary>
    public const int ImageId = 5;
    /// <summary>Number of special tokens (ids 0..5).</summary>
    public const int SpecialCount = 6;

    /// <summary>Version of the payload written by <see cref="ToBytes"/>.</summary>
    public const int PayloadVersion = 1;
    private static readonly byte[] Magic = "MLNXTOKZ"u8.ToArray();
    private const string ContinuationPrefix = "##";

    private readonly string[] vocabulary;
    private readonly Dictionary<string, int> index;
    private readonly WordPieceTokenizer tokenizer;

    private TextTokenizer(string[] vocabulary, TextTokenizerOptions options)
    {
        options.Validate();
        this.vocabulary = vocabulary;
        Options = options;
        var special = options.Special.InIdOrder();
        if (vocabulary.Length < SpecialCount)
            throw new InvalidDataException($"TextTokenizer: the vocabulary has {vocabulary.Length} entries, fewer than the {SpecialCount} special tokens.");
        for (int i = 0; i < SpecialCount; i++)
            if (vocabulary[i] != special[i])
                throw new InvalidDataException($"TextTokenizer: vocabulary entry {i} is '{vocabulary[i]}', expected the special token '{special[i]}'.");
        index = new Dictionary<string, int>(vocabulary.Length, StringComparer.Ordinal);
        for (int i = 0; i < vocabulary.Length; i++)
        {
            if (string.IsNullOrEmpty(vocabulary[i]) || vocabulary[i].Any(c => c == '\n' || c == '\r'))
                throw new InvalidDataException($"TextTokenizer: vocabulary entry {i} is empty or contains a line break.");
            if (!index.TryAdd(vocabulary[i], i))
                throw new InvalidDataException($"TextTokenizer: vocabulary entry '{vocabulary[i]}' appears twice (ids {index[vocabulary[i]]} and {i}).");
        }

        var specialIds = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < SpecialCount; i++) specialIds[special[i]] = i;
        SpecialTokenIds = specialIds;
        var vocabText = string.Join("\n", vocabulary) + "\n";
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(vocabText));
        tokenizer = WordPieceTokenizer.Create(stream, new WordPieceOptions
        {
            PreTokenizer = PreTokenizer.CreateWordOrNonWord(specialIds),
            Normalizer = options.LowerCase ? LowerCaseNormalizer.Instance : null,
            SpecialTokens = specialIds,
            UnknownToken = special[UnknownId],
            ContinuingSubwordPrefix = ContinuationPrefix,
            MaxInputCharsPerWord = options.MaxInputCharsPerWord,
        });
        if (tokenizer.UnknownTokenId != UnknownId)
            throw new InvalidDataException($"TextTokenizer: the WordPiece tokenizer resolved the unknown token to id {tokenizer.UnknownTokenId}, expected {UnknownId}.");
    }

    /// <summary>The settings the vocabulary was built with (also used for encoding).</summary>
    public TextTokenizerOptions Options { get; }

    /// <summary>The underlying Microsoft.ML.Tokenizers tokenizer (WordPiece over the generated vocabulary).</summary>
    public Tokenizer Underlying => tokenizer;

    /// <summary>Vocabulary size (special tokens included): the embedding size a model needs.</summary>
    public int VocabularySize => vocabulary.Length;

    /// <summary>The vocabulary in id order.</summary>
    public IReadOnlyList<string> Vocabulary => vocabulary;

    /// <summary>Special token string → id.</summary>
    public IReadOnlyDictionary<string, int> SpecialTokenIds { get; }

    /// <summary>True for ids 0..5 (pad, unk, bos, eos, sep, image).</summary>
    public static bool IsSpecial(long id) => id >= 0 && id < SpecialCount;

    /// <summary>Id of a token string, or null when it is not in the vocabulary.</summary>
    public int? TokenToId(string token) => index.TryGetValue(token, out var id) ? id : null;

    /// <summary>The token string of an id.</summary>
    public string IdToToken(long id)
    {
        if (id < 0 || id >= vocabulary.Length)
            throw new ArgumentOutOfRangeException(nameof(id), id, $"TextTokenizer: id {id} is outside the vocabulary [0, {vocabulary.Length}).");
        return vocabulary[id];
    }

    /// <summary>
    /// Builds the vocabulary from <paramref name="corpus"/> and returns the tokenizer. Deterministic: the same corpus
    /// (as a multiset of texts) and options give the same vocabulary, whatever the order of the texts.
    /// </summary>
    public static TextTokenizer Train(IEnumerable<string> corpus, TextTokenizerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        options ??= new TextTokenizerOptions();
        options.Validate();
        var special = options.Special.InIdOrder();
        var specialIds = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < special.Count; i++) specialIds[special[i]] = i;
        var pre = PreTokenizer.CreateWordOrNonWord(specialIds);
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        var chars = new SortedSet<string>(StringComparer.Ordinal);
        int texts = 0;
        foreach (var raw in corpus)
        {
            if (raw is null) throw new ArgumentException($"TextTokenizer.Train: corpus text #{texts} is null.");
            texts++;
            var text = options.LowerCase ? raw.ToLowerInvariant() : raw;
            foreach (var (offset, length) in pre.PreTokenize(text))
            {
                var word = text.Substring(offset, length);
                if (specialIds.ContainsKey(word)) continue;
                counts[word] = counts.GetValueOrDefault(word) + 1;
                if (options.CharacterFallback)
                    foreach (var rune in word.EnumerateRunes()) chars.Add(rune.ToString());
            }
        }

        var vocab = new List<string>(special);
        var seen = new HashSet<string>(special, StringComparer.Ordinal);
        if (options.CharacterFallback)
        {
            int needed = vocab.Count + 2 * chars.Count;
            if (needed > options.MaxVocabularySize)
                throw new ArgumentOutOfRangeException(nameof(options), options.MaxVocabularySize,
                    $"TextTokenizer.Train: CharacterFallback needs {needed} entries ({chars.Count} characters × 2 + {SpecialCount} special tokens), more than MaxVocabularySize.");
            foreach (var c in chars) if (seen.Add(c)) vocab.Add(c);
            foreach (var c in chars) if (seen.Add(ContinuationPrefix + c)) vocab.Add(ContinuationPrefix + c);
        }
        foreach (var (word, _) in counts
                     .Where(kv => kv.Value >= options.MinFrequency)
                     .OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (vocab.Count >= options.MaxVocabularySize) break;
            if (seen.Add(word)) vocab.Add(word);
        }
        return new TextTokenizer(vocab.ToArray(), options);
    }

    /// <summary>
    /// Creates a tokenizer from an explicit vocabulary (ids in list order). The first six entries must be the special
    /// tokens of <paramref name="options"/> in id order.
    /// </summary>
    public static TextTokenizer FromVocabulary(IReadOnlyList<string> vocabulary, TextTokenizerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        return new TextTokenizer(vocabulary.ToArray(), options ?? new TextTokenizerOptions());
    }

    /// <summary>The ids of <paramref name="text"/> through the WordPiece tokenizer, no special tokens added, no limit.</summary>
    public int[] Tokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return tokenizer.EncodeToIds(text).ToArray();
    }

    /// <summary>
    /// Encodes one text: optional bos, the text's tokens, optional eos. With <paramref name="maxLength"/> the total is
    /// at most that many tokens: the text's tokens are cut on <paramref name="truncation"/>'s side and bos/eos are
    /// always kept.
    /// </summary>
    public EncodedText Encode(string text, int? maxLength = null, TruncationSide truncation = TruncationSide.Right,
        bool addBos = true, bool addEos = false)
    {
        var body = Tokenize(text);
        int specials = (addBos ? 1 : 0) + (addEos ? 1 : 0);
        if (maxLength is int max && max <= specials)
            throw new ArgumentOutOfRangeException(nameof(maxLength), max,
                $"TextTokenizer.Encode: maxLength {max} leaves no room for text next to {specials} bos/eos token(s).");
        int keep = maxLength is int m ? Math.Min(body.Length, m - specials) : body.Length;
        int start = truncation == TruncationSide.Left ? body.Length - keep : 0;
        var ids = new long[keep + specials];
        int p = 0;
        if (addBos) ids[p++] = BosId;
        for (int i = 0; i < keep; i++) ids[p++] = body[start + i];
        if (addEos) ids[p++] = EosId;
        var mask = new long[ids.Length];
        Array.Fill(mask, 1L);
        return new EncodedText(ids, mask, ids.Length, keep < body.Length);
    }

    /// <summary>
    /// Encodes a batch and pads every row with the pad id to the longest row (or to <paramref name="padToLength"/>,
    /// which must be at least the longest row) on <paramref name="padding"/>'s side.
    /// </summary>
    public EncodedBatch EncodeBatch(IReadOnlyList<string> texts, int? maxLength = null,
        TruncationSide truncation = TruncationSide.Right, PaddingSide padding = PaddingSide.Right,
        bool addBos = true, bool addEos = false, int? padToLength = null)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var rows = new List<long[]>(texts.Count);
        for (int i = 0; i < texts.Count; i++)
        {
            if (texts[i] is null) throw new ArgumentException($"TextTokenizer.EncodeBatch: text #{i} is null.", nameof(texts));
            rows.Add(Encode(texts[i], maxLength, truncation, addBos, addEos).Ids);
        }
        return Pad(rows, padding, padToLength);
    }

    /// <summary>Pads already-encoded rows into a batch (see <see cref="EncodeBatch"/>).</summary>
    public static EncodedBatch Pad(IReadOnlyList<long[]> rows, PaddingSide padding = PaddingSide.Right, int? padToLength = null)
    {
        ArgumentNullException.ThrowIfNull(rows);
        int longest = rows.Count == 0 ? 0 : rows.Max(r => r.Length);
        int t = padToLength ?? longest;
        if (t < longest)
            throw new ArgumentOutOfRangeException(nameof(padToLength), t, $"TextTokenizer.Pad: padToLength {t} is shorter than the longest row ({longest} tokens).");
        var ids = new long[rows.Count * t];
        var mask = new long[rows.Count * t];
        var lengths = new int[rows.Count];
        for (int b = 0; b < rows.Count; b++)
        {
            var r = rows[b];
            int off = b * t + (padding == PaddingSide.Left ? t - r.Length : 0);
            r.CopyTo(ids, off);
            mask.AsSpan(off, r.Length).Fill(1L);
            lengths[b] = r.Length;
        }
        return new EncodedBatch(ids, mask, lengths, rows.Count, t, padding);
    }

    /// <summary>
    /// Decodes ids to text. By default it stops at the first eos and skips every special token (pad, unk, bos, sep,
    /// image); <paramref name="keepSeparator"/> keeps the separator token's string.
    /// </summary>
    public string Decode(IEnumerable<long> ids, bool stopAtEos = true, bool skipSpecialTokens = true, bool keepSeparator = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var kept = new List<int>();
        foreach (var id in ids)
        {
            if (id < 0 || id >= vocabulary.Length)
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"TextTokenizer.Decode: id {id} is outside the vocabulary [0, {vocabulary.Length}).");
            if (stopAtEos && id == EosId) break;
            if (skipSpecialTokens && IsSpecial(id) && !(keepSeparator && id == SepId)) continue;
            kept.Add((int)id);
        }
        // Special tokens that survive the filter are decoded as their strings (not dropped by WordPiece).
        return tokenizer.Decode(kept, skipSpecialTokens: false);
    }

    /// <summary>Decodes int ids (see <see cref="Decode(IEnumerable{long}, bool, bool, bool)"/>).</summary>
    public string Decode(IEnumerable<int> ids, bool stopAtEos = true, bool skipSpecialTokens = true, bool keepSeparator = false)
        => Decode(ids.Select(i => (long)i), stopAtEos, skipSpecialTokens, keepSeparator);

    // ---------------------------------------------------------------- persistence

    /// <summary>
    /// The tokenizer as bytes: magic "MLNXTOKZ", int32 payload version, int32 body length, UTF-8 JSON body (settings and
    /// vocabulary), SHA-256 of the body.
    /// </summary>
    public byte[] ToBytes()
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(new Payload
        {
            Kind = "wordpiece-word-level",
            LowerCase = Options.LowerCase,
            CharacterFallback = Options.CharacterFallback,
            MaxVocabularySize = Options.MaxVocabularySize,
            MinFrequency = Options.MinFrequency,
            MaxInputCharsPerWord = Options.MaxInputCharsPerWord,
            Special = Options.Special.InIdOrder().ToArray(),
            Vocabulary = vocabulary,
        }, PayloadJson.Default.Payload);
        using var ms = new MemoryStream(body.Length + 48);
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(PayloadVersion);
            w.Write(body.Length);
            w.Write(body);
            w.Write(SHA256.HashData(body));
        }
        return ms.ToArray();
    }

    /// <summary>Writes <see cref="ToBytes"/> to <paramref name="stream"/>.</summary>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var bytes = ToBytes();
        stream.Write(bytes, 0, bytes.Length);
    }

    /// <summary>Reads a tokenizer written by <see cref="Save"/> (the rest of the stream is left unread).</summary>
    public static TextTokenizer Load(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var head = ReadExactly(stream, Magic.Length + 8, "header");
        int length = BitConverter.ToInt32(head, Magic.Length + 4);
        if (length < 0 || length > 1 << 28)
            throw new InvalidDataException($"TextTokenizer payload: body length {length} is not plausible (corrupt header).");
        var rest = ReadExactly(stream, length + 32, "body and checksum");
        var all = new byte[head.Length + rest.Length];
        head.CopyTo(all, 0); rest.CopyTo(all, head.Length);
        return FromBytes(all);
    }

    /// <summary>Rebuilds the tokenizer from <see cref="ToBytes"/>; throws <see cref="InvalidDataException"/> naming what is wrong.</summary>
    public static TextTokenizer FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < Magic.Length + 8 + 32)
            throw new InvalidDataException($"TextTokenizer payload: {bytes.Length} bytes is too short to be a tokenizer payload (header and checksum alone need {Magic.Length + 40}).");
        if (!bytes[..Magic.Length].SequenceEqual(Magic))
            throw new InvalidDataException("TextTokenizer payload: the magic bytes are not 'MLNXTOKZ'; this is not a TextTokenizer payload.");
        int version = BitConverter.ToInt32(bytes.Slice(Magic.Length, 4));
        if (version != PayloadVersion)
            throw new InvalidDataException($"TextTokenizer payload: version {version} is not supported (this build reads version {PayloadVersion}).");
        int length = BitConverter.ToInt32(bytes.Slice(Magic.Length + 4, 4));
        int expected = Magic.Length + 8 + length + 32;
        if (length < 0 || bytes.Length != expected)
            throw new InvalidDataException($"TextTokenizer payload: the header announces a {length}-byte body ({expected} bytes in all) but {bytes.Length} bytes were given (truncated or padded).");
        var body = bytes.Slice(Magic.Length + 8, length);
        var hash = bytes.Slice(Magic.Length + 8 + length, 32);
        if (!SHA256.HashData(body).AsSpan().SequenceEqual(hash))
            throw new InvalidDataException("TextTokenizer payload: SHA-256 checksum mismatch; the vocabulary or settings were corrupted.");
        Payload? p;
        try { p = JsonSerializer.Deserialize(body, PayloadJson.Default.Payload); }
        catch (JsonException e) { throw new InvalidDataException($"TextTokenizer payload: the body is not valid JSON ({e.Message}).", e); }
        if (p is null || p.Vocabulary is null || p.Special is null || p.Special.Length != SpecialCount)
            throw new InvalidDataException("TextTokenizer payload: the body lacks the vocabulary or the six special tokens.");
        if (p.Kind != "wordpiece-word-level")
            throw new InvalidDataException($"TextTokenizer payload: tokenizer kind '{p.Kind}' is not supported.");
        var options = new TextTokenizerOptions
        {
            LowerCase = p.LowerCase,
            CharacterFallback = p.CharacterFallback,
            MaxVocabularySize = p.MaxVocabularySize,
            MinFrequency = p.MinFrequency,
            MaxInputCharsPerWord = p.MaxInputCharsPerWord,
            Special = new SpecialTokens { Pad = p.Special[0], Unknown = p.Special[1], Bos = p.Special[2], Eos = p.Special[3], Sep = p.Special[4], Image = p.Special[5] },
        };
        return new TextTokenizer(p.Vocabulary, options);
    }

    private static byte[] ReadExactly(Stream s, int count, string what)
    {
        var buffer = new byte[count];
        int read = 0;
        while (read < count)
        {
            int n = s.Read(buffer, read, count - read);
            if (n == 0) throw new InvalidDataException($"TextTokenizer payload: the stream ended after {read} of the {count} bytes of the {what}.");
            read += n;
        }
        return buffer;
    }

    internal sealed class Payload
    {
        public string Kind { get; set; } = "";
        public bool LowerCase { get; set; }
        public bool CharacterFallback { get; set; }
        public int MaxVocabularySize { get; set; }
        public int MinFrequency { get; set; }
        public int MaxInputCharsPerWord { get; set; }
        public string[]? Special { get; set; }
        public string[]? Vocabulary { get; set; }
    }
}

[JsonSerializable(typeof(TextTokenizer.Payload))]
internal sealed partial class PayloadJson : JsonSerializerContext;

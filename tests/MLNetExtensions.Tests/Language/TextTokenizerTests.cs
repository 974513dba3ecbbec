using MLNetExtensions.Core.Text;
using Xunit;

namespace MLNetExtensions.Tests.Language;

public class TextTokenizerTests
{
    private static readonly string[] Corpus =
    {
        "the cat sat on the mat .",
        "the dog sat on the log !",
        "what is top-left ? <image> a cat",
        "where is the dog ? bottom-right",
        "The Cat is black",
    };

    private static TextTokenizer Make(TextTokenizerOptions? o = null) => TextTokenizer.Train(Corpus, o);

    [Fact]
    public void SpecialTokensHaveFixedIdsAndVocabularyIsFrequencyOrdered()
    {
        var tok = Make();
        Assert.Equal(new[] { "<pad>", "<unk>", "<bos>", "<eos>", "<sep>", "<image>" }, tok.Vocabulary.Take(6));
        // "the" is the most frequent word (6 with the lower-cased "The"), so it is id 6.
        Assert.Equal("the", tok.IdToToken(6));
        Assert.IsType<Microsoft.ML.Tokenizers.WordPieceTokenizer>(tok.Underlying);
    }

    [Fact]
    public void VocabularyIsDeterministicForTheSameCorpusInAnyOrder()
    {
        var a = Make();
        var b = TextTokenizer.Train(Corpus.Reverse().ToArray());
        Assert.Equal(a.Vocabulary, b.Vocabulary);
        Assert.Equal(a.ToBytes(), b.ToBytes());
    }

    [Fact]
    public void SizeCapAndMinFrequencyAreApplied()
    {
        var capped = Make(new TextTokenizerOptions { MaxVocabularySize = 10 });
        Assert.Equal(10, capped.VocabularySize);
        var frequent = Make(new TextTokenizerOptions { MinFrequency = 2 });
        foreach (var w in new[] { "the", "cat", "sat", "on", "dog", "is", "?" }) Assert.NotNull(frequent.TokenToId(w));
        Assert.Null(frequent.TokenToId("mat"));
    }

    [Fact]
    public void UnknownWordsMapToUnk()
    {
        var tok = Make();
        var ids = tok.Tokenize("the zebra sat");
        Assert.Equal(new[] { tok.TokenToId("the")!.Value, TextTokenizer.UnknownId, tok.TokenToId("sat")!.Value }, ids);
    }

    [Fact]
    public void CharacterFallbackSpellsOutUnknownWords()
    {
        var tok = Make(new TextTokenizerOptions { CharacterFallback = true });
        var ids = tok.Tokenize("tac");
        Assert.Equal(new[] { "t", "##a", "##c" }, ids.Select(i => tok.IdToToken(i)));
        Assert.Equal("tac", tok.Decode(ids));
    }

    [Fact]
    public void SpecialTokensAreNeverSplit()
    {
        var tok = Make();
        var ids = tok.Tokenize("<image> what is<sep>top-left ? <eos>");
        Assert.Equal(TextTokenizer.ImageId, ids[0]);
        Assert.Contains(TextTokenizer.SepId, ids);
        Assert.Equal(TextTokenizer.EosId, ids[^1]);
        Assert.DoesNotContain(TextTokenizer.UnknownId, ids);
        // Upper-case input is lower-cased first, so it still matches the special token.
        Assert.Equal(TextTokenizer.ImageId, tok.Tokenize("<IMAGE>")[0]);
    }

    [Fact]
    public void EncodeAddsBosEosAndTruncatesOnTheChosenSideKeepingThem()
    {
        var tok = Make();
        var body = tok.Tokenize("the cat sat on the mat");
        var full = tok.Encode("the cat sat on the mat", addBos: true, addEos: true);
        Assert.Equal(new long[] { TextTokenizer.BosId }.Concat(body.Select(i => (long)i)).Append(TextTokenizer.EosId), full.Ids);
        Assert.All(full.AttentionMask, m => Assert.Equal(1L, m));
        Assert.False(full.Truncated);

        var right = tok.Encode("the cat sat on the mat", 4, TruncationSide.Right, addBos: true, addEos: true);
        Assert.Equal(new long[] { TextTokenizer.BosId, body[0], body[1], TextTokenizer.EosId }, right.Ids);
        Assert.True(right.Truncated);
        var left = tok.Encode("the cat sat on the mat", 4, TruncationSide.Left, addBos: true, addEos: true);
        Assert.Equal(new long[] { TextTokenizer.BosId, body[^2], body[^1], TextTokenizer.EosId }, left.Ids);
        Assert.Equal(4, left.Length);

        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => tok.Encode("the cat", 2, addBos: true, addEos: true));
        Assert.Contains("maxLength", ex.Message);
    }

    [Fact]
    public void BatchEncodePadsOnEitherSide()
    {
        var tok = Make();
        var texts = new[] { "the cat", "the dog sat on the log" };
        var r = tok.EncodeBatch(texts, padding: PaddingSide.Right);
        Assert.Equal(2, r.BatchSize);
        Assert.Equal(r.Lengths.Max(), r.SequenceLength);
        Assert.Equal(tok.Encode("the cat").Ids, r.RowIds(0));
        Assert.Equal(new long[] { 1, 1, 1, 0, 0, 0, 0 }, r.AttentionMask.Take(7));
        Assert.Equal(TextTokenizer.PadId, r.Ids[6]);
        var l = tok.EncodeBatch(texts, padding: PaddingSide.Left, padToLength: 8);
        Assert.Equal(8, l.SequenceLength);
        Assert.Equal(new long[] { 0, 0, 0, 0, 0, 1, 1, 1 }, l.AttentionMask.Take(8));
        Assert.Equal(tok.Encode("the cat").Ids, l.RowIds(0));
        Assert.Equal(tok.Encode(texts[1]).Ids, l.RowIds(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => tok.EncodeBatch(texts, padToLength: 3));
    }

    [Fact]
    public void DecodeStopsAtEosAndSkipsSpecials()
    {
        var tok = Make();
        var ids = tok.Encode("the cat <sep> sat <image>", addBos: true, addEos: true).Ids.Concat(tok.Encode("dog").Ids).ToArray();
        Assert.Equal("the cat sat", tok.Decode(ids));
        Assert.Equal("the cat <sep> sat", tok.Decode(ids, keepSeparator: true));
        Assert.Contains("dog", tok.Decode(ids, stopAtEos: false));
        Assert.Throws<ArgumentOutOfRangeException>(() => tok.Decode(new long[] { 9999 }));
    }

    [Fact]
    public void SaveLoadRoundTripGivesIdenticalIds()
    {
        var tok = Make(new TextTokenizerOptions { MinFrequency = 1, MaxVocabularySize = 30, LowerCase = true });
        using var ms = new MemoryStream();
        tok.Save(ms);
        ms.WriteByte(42); // trailing data of the enclosing container is left unread
        ms.Position = 0;
        var back = TextTokenizer.Load(ms);
        Assert.Equal(42, ms.ReadByte());
        Assert.Equal(tok.Vocabulary, back.Vocabulary);
        Assert.Equal(tok.Options, back.Options with { Special = tok.Options.Special });
        foreach (var text in Corpus.Append("unseen words <image> and <sep> tokens"))
            Assert.Equal(tok.Encode(text, 12, TruncationSide.Left, true, true).Ids, back.Encode(text, 12, TruncationSide.Left, true, true).Ids);
        var fromBytes = TextTokenizer.FromBytes(tok.ToBytes());
        Assert.Equal(tok.ToBytes(), fromBytes.ToBytes());
    }

    [Fact]
    public void CorruptPayloadsAreDetectedWithNamedErrors()
    {
        var bytes = Make().ToBytes();
        var flipped = (byte[])bytes.Clone();
        flipped[bytes.Length / 2] ^= 0x01;
        Assert.Contains("checksum", Assert.Throws<InvalidDataException>(() => TextTokenizer.FromBytes(flipped)).Message);
        Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => TextTokenizer.FromBytes(bytes.AsSpan(0, bytes.Length - 5))).Message);
        var magic = (byte[])bytes.Clone(); magic[0] = (byte)'X';
        Assert.Contains("magic", Assert.Throws<InvalidDataException>(() => TextTokenizer.FromBytes(magic)).Message);
        var version = (byte[])bytes.Clone(); version[8] = 99;
        Assert.Contains("version 99", Assert.Throws<InvalidDataException>(() => TextTokenizer.FromBytes(version)).Message);
        Assert.Contains("ended", Assert.Throws<InvalidDataException>(() => TextTokenizer.Load(new MemoryStream(bytes, 0, 20))).Message);
    }

    [Fact]
    public void InvalidOptionsAndVocabulariesAreNamed()
    {
        Assert.Contains("MaxVocabularySize", Assert.Throws<ArgumentOutOfRangeException>(() => Make(new TextTokenizerOptions { MaxVocabularySize = 6 })).Message);
        Assert.Contains("distinct", Assert.Throws<ArgumentException>(() => Make(new TextTokenizerOptions { Special = new SpecialTokens { Sep = "<eos>" } })).Message);
        Assert.Contains("upper-case", Assert.Throws<ArgumentException>(() => Make(new TextTokenizerOptions { Special = new SpecialTokens { Image = "<IMG>" } })).Message);
        Assert.Contains("expected the special token", Assert.Throws<InvalidDataException>(() => TextTokenizer.FromVocabulary(new[] { "a", "b", "c", "d", "e", "f", "g" })).Message);
        var ok = TextTokenizer.FromVocabulary(new[] { "<pad>", "<unk>", "<bos>", "<eos>", "<sep>", "<image>", "hello" });
        Assert.Equal(new[] { 6, 1 }, ok.Tokenize("hello world"));
    }
}

using MLNetExtensions.Evaluators.Translation.Metrics;
using Xunit;

namespace MLNetExtensions.Tests.Translation;

public sealed class MetricsTests
{
    [Theory]
    [InlineData(0.125, 2, "0.12")]    // exact tie → even (.NET "F2" gives 0.13)
    [InlineData(0.375, 2, "0.38")]
    [InlineData(2.675, 2, "2.67")]    // binary value is below the tie
    [InlineData(48.530827009929865, 2, "48.53")]
    [InlineData(-0.001, 2, "-0.00")]
    [InlineData(100.00000000000004, 2, "100.00")]
    [InlineData(0.5, 0, "0")]
    [InlineData(1.5, 0, "2")]
    public void PyFormatMatchesPython(double x, int decimals, string expected) =>
        Assert.Equal(expected, PyFormat.Fixed(x, decimals));

    [Fact]
    public void PythonWhitespaceAndLowercase()
    {
        Assert.Equal(new[] { "a", "b", "c" }, PyText.Split("\u001fa\u00a0b\u3000c\u2028"));
        Assert.Equal("i\u0307stanbul", PyText.Lower("İSTANBUL"));
        // Final sigma (ς) only at a word end; σ elsewhere.
        Assert.Equal("\u03bf\u03b4\u03bf\u03c2 \u03c3\u03b1", PyText.Lower("\u039f\u0394\u039f\u03a3 \u03a3\u0391"));
    }

    [Fact]
    public void SentenceBleuEqualsOneSegmentCorpus()
    {
        var bleu = new Bleu(BleuOptions.SentenceDefaults);
        var s = bleu.SentenceScore("the cat sat on the mat", new[] { "the cat sat on a mat", "a cat sat on the mat" });
        var c = bleu.CorpusScore(new[] { "the cat sat on the mat" }, new IReadOnlyList<string?>[] { new[] { "the cat sat on a mat" }, new[] { "a cat sat on the mat" } });
        Assert.Equal(c.Score, s.Score);
        Assert.InRange(s.Score, 1, 99);
        Assert.StartsWith("nrefs:2|case:mixed|eff:yes|tok:13a|smooth:exp|version:", s.Signature);
        Assert.Equal("#:2|c:mixed|e:yes|tok:13a|s:exp|v:" + SacreBleuSignature.Version, bleu.GetSignature(shortForm: true));
    }

    [Fact]
    public void NullReferenceGivesVariableRefCount()
    {
        var bleu = new Bleu();
        var s = bleu.CorpusScore(new[] { "a b c d", "e f g h" }, new IReadOnlyList<string?>[] { new[] { "a b c d", null }, new[] { "a b c d", "e f g h" } });
        Assert.Contains("nrefs:var", s.Signature);
        Assert.Equal(100, s.Score, 9);
    }

    [Fact]
    public void UnsupportedTokenizerIsRejectedClearly()
    {
        var e = Assert.Throws<NotSupportedException>(() => new Bleu(new BleuOptions { Tokenize = "ja-mecab" }));
        Assert.Contains("13a", e.Message);
        Assert.Throws<ArgumentException>(() => new Bleu(new BleuOptions { Tokenize = "moses" }));
    }

    [Fact]
    public void DocumentBleuFlagsRunawayDocumentAndPicksZhTokenizer()
    {
        var refs = new[] { "The dog bit the man.", "Prices rose by five percent." };
        var hyps = new[] { "The dog bit the man.", string.Join(" ", Enumerable.Repeat("Prices rose by five percent.", 5)) };
        var r = DocumentBleu.Compute(hyps, refs, targetLanguage: "en");
        Assert.Equal(new[] { 1 }, r.Outliers);
        Assert.Equal(100, r.PerDocument[0], 9);
        Assert.Equal((r.PerDocument[0] + r.PerDocument[1]) / 2, r.AvgBleu, 12);
        Assert.Contains("tok:13a", r.Signature);
        var zh = DocumentBleu.Compute(new[] { "我爱北京。" }, new[] { "我爱北京。" }, targetLanguage: "zh");
        Assert.Contains("tok:zh", zh.Signature);
        Assert.Equal(5, zh.DBleu.SysLen);
    }

    [Fact]
    public void AssemblerJoinsByDocumentAndLanguage()
    {
        var docs = DocumentAssembler.Join(new[] { "A b.", "C d.\n", "E." }, new[] { "d1", "d1", "d2" }, "en");
        Assert.Equal(new[] { "A b. C d.", "E." }, docs);
        Assert.Equal("我爱你。你好。", DocumentAssembler.JoinChunks(new[] { "我爱你。", "你好。" }, "zh"));
        Assert.Equal(2, DocumentAssembler.Chunk(new[] { "1", "2", "3" }, 2).Count);
    }
}

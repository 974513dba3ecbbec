using MLNetExtensions.Evaluators.Translation.Translate;
using Xunit;

namespace MLNetExtensions.Tests.Translation;

public sealed class DocumentTranslatorTests
{
    private static readonly SourceDocument Doc = new("doc1", new[]
    {
        "Der Hund biss den Mann.",
        "Das war keine Überraschung.",
        "Der Mann hatte ihn zuvor gebissen.",
        "Danach gingen beide nach Hause.",
        "Am nächsten Tag war alles vergessen.",
    });

    private static readonly Dictionary<string, string> Glossary = new()
    {
        ["Der Hund biss den Mann."] = "The dog bit the man.",
        ["Das war keine Überraschung."] = "That was no surprise.",
        ["Der Mann hatte ihn zuvor gebissen."] = "The man had bitten him before.",
        ["Danach gingen beide nach Hause."] = "Afterwards both went home.",
        ["Am nächsten Tag war alles vergessen."] = "The next day everything was forgotten.",
    };

    private static string TextOf(string prompt) => prompt[(prompt.IndexOf("\n\n", StringComparison.Ordinal) + 2)..];

    // A fake MT model: translates every known source sentence in the text it receives.
    private static string Translate(string text)
    {
        foreach (var (de, en) in Glossary) text = text.Replace(de, en);
        return text;
    }

    private static DocumentTranslatorOptions Options(Uri endpoint) => new()
    {
        Endpoint = endpoint, ApiKey = "k", Model = "mt-test", SourceLanguage = "de", TargetLanguage = "en",
        BaseDelay = TimeSpan.FromMilliseconds(10), MaxDelay = TimeSpan.FromMilliseconds(50), UseJitter = false, MaxRetries = 2,
        RequestTimeout = TimeSpan.FromSeconds(10),
    };

    [Fact]
    public async Task SentenceChunkAndDocumentModesMakeTheExpectedCallsAndAlign()
    {
        using var server = new LoopbackOpenAIServer(r => ScriptedReply.Ok(Translate(TextOf(r.Prompt))));
        var t = DocumentTranslator.Create(Options(server.Endpoint));

        var st1 = await t.TranslateAsync(Doc, TranslationMode.Sentence);
        Assert.Equal(5, server.Count);
        Assert.Contains("Translate the following German text into English.", server.Requests.First().Prompt);
        Assert.Equal(Glossary.Values, st1.Target);

        var st2 = await t.TranslateAsync(Doc, TranslationMode.Chunk);   // k = 3 → 2 calls
        Assert.Equal(7, server.Count);
        Assert.Equal(Glossary.Values, st2.Target);

        var doc = await t.TranslateAsync(Doc, TranslationMode.Document);
        Assert.Equal(8, server.Count);
        Assert.Equal(1, doc.Calls);
        Assert.Equal(Glossary.Values, doc.Target);
        Assert.Equal(string.Join(" ", Glossary.Values), doc.Text);
        Assert.All(doc.Alignment, b => Assert.Equal(b.Source, b.Target));
        Assert.Null(doc.Error);
    }

    [Fact]
    public async Task MergedOutputSentencesAreRealigned()
    {
        // The model merges sentences 2+3 and wraps its answer in a preamble.
        using var server = new LoopbackOpenAIServer(_ => ScriptedReply.Ok(
            "Here is the translation:\nThe dog bit the man. That was no surprise, since the man had bitten him before. " +
            "Afterwards both went home. The next day everything was forgotten."));
        var doc = await DocumentTranslator.Create(Options(server.Endpoint)).TranslateAsync(Doc, TranslationMode.Document);
        Assert.Equal(new[] { "The dog bit the man.", "That was no surprise, since the man had bitten him before.", "",
            "Afterwards both went home.", "The next day everything was forgotten." }, doc.Target);
        Assert.Contains(doc.Alignment, b => b.Source.SequenceEqual(new[] { 1, 2 }) && b.Target.SequenceEqual(new[] { 1 }));
        Assert.DoesNotContain("Here is", doc.Text);
    }

    [Fact]
    public async Task SplitOutputSentencesAreRealigned()
    {
        // The model splits sentence 3 in two.
        using var server = new LoopbackOpenAIServer(_ => ScriptedReply.Ok(
            "The dog bit the man. That was no surprise. The man had bitten him. He had done so before. " +
            "Afterwards both went home. The next day everything was forgotten."));
        var doc = await DocumentTranslator.Create(Options(server.Endpoint)).TranslateAsync(Doc, TranslationMode.Document);
        Assert.Equal("The man had bitten him. He had done so before.", doc.Target[2]);
        Assert.Equal("Afterwards both went home.", doc.Target[3]);
        Assert.Contains(doc.Alignment, b => b.Source.SequenceEqual(new[] { 2 }) && b.Target.SequenceEqual(new[] { 2, 3 }));
    }

    [Fact]
    public async Task FailedRequestsAreReportedNotThrown()
    {
        using var server = new LoopbackOpenAIServer(r => r.Prompt.Contains("Überraschung") ? ScriptedReply.Error(503) : ScriptedReply.Ok(Translate(TextOf(r.Prompt))));
        var results = await DocumentTranslator.Create(Options(server.Endpoint)).TranslateAsync(new[] { Doc, Doc with { Id = "doc2" } }, TranslationMode.Sentence);
        Assert.Equal(2, results.Count);
        Assert.All(results, r =>
        {
            Assert.True(r.Failed);
            Assert.Contains("sentences 2-2", r.Error);
            Assert.Contains("HTTP 503", r.Error);
            Assert.Equal("", r.Target[1]);
            Assert.Equal("The dog bit the man.", r.Target[0]);
            Assert.Equal(7, r.Attempts);                                    // 4 good + 3 attempts for the failing one
        });
    }

    [Theory]
    [InlineData("Dr. Smith arrived at 3.30 p.m. today. He left at once! Did he?", 3)]
    [InlineData("He said \"no.\" Then he left.", 2)]
    [InlineData("我爱北京。你好！今天天气很好", 3)]
    [InlineData("Line one\nLine two", 2)]
    [InlineData("J. R. R. Tolkien wrote it. It sold well.", 2)]
    public void SplitterHandlesAbbreviationsQuotesAndCjk(string text, int expected) =>
        Assert.Equal(expected, SentenceSplitter.Split(text).Count);
}

using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Data.Analysis;
using Microsoft.ML;
using MLNetExtensions.Evaluators.Translation.Judge;
using Xunit;

namespace MLNetExtensions.Tests.Translation;

/// <summary>The judge over the real OpenAI client and real HTTP against a scripted loopback server.</summary>
public sealed class LlmJudgeEvaluatorTests : IDisposable
{
    private readonly string _tmp = Path.Combine(Path.GetTempPath(), "mlnetext-judge-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(_tmp, recursive: true); } catch (DirectoryNotFoundException) { }
    }

    internal static LlmJudgeOptions Options(Uri endpoint, string? cache = null, params JudgeDimension[] dims) => new()
    {
        Endpoint = endpoint, ApiKey = "test-key", Model = "judge-test",
        BaseDelay = TimeSpan.FromMilliseconds(10), MaxDelay = TimeSpan.FromMilliseconds(50), UseJitter = false,
        RequestTimeout = TimeSpan.FromSeconds(10), MaxRetries = 3, MaxConcurrency = 4,
        CacheDirectory = cache, BootstrapSamples = 200,
        Dimensions = dims.Length > 0 ? dims : new[] { JudgeDimension.Fluency, JudgeDimension.Accuracy, JudgeDimension.Cohesion },
    };

    internal static JudgeDimension? DimensionOf(string prompt) =>
        prompt.Contains("Rate the fluency") ? JudgeDimension.Fluency
        : prompt.Contains("accuracy mistake") ? JudgeDimension.Accuracy
        : prompt.Contains("cohesion of the translation") ? JudgeDimension.Cohesion : null;

    private const string Ref1 = "The committee approved the budget on Monday. It will fund new schools and repair old roads. Critics said the plan was too expensive.";
    private const string Ref2 = "Heavy rain flooded the valley overnight. Residents moved to higher ground. The water began to recede by noon.";

    // sysA copies the reference (BLEU 100), sysB paraphrases a little, sysC is garbled.
    private static JudgeItem[] Items() => new[]
    {
        new JudgeItem("d1", "sysA", Ref1, Ref1, TargetLanguage: "en"),
        new JudgeItem("d2", "sysA", Ref2, Ref2, TargetLanguage: "en"),
        new JudgeItem("d1", "sysB", "The committee approved the budget on Monday. It will pay for new schools and fix old roads. Critics said that the plan was too costly.", Ref1, TargetLanguage: "en"),
        new JudgeItem("d2", "sysB", "Heavy rain flooded the valley during the night. Residents moved to higher ground. The water started to recede by noon.", Ref2, TargetLanguage: "en"),
        new JudgeItem("d1", "sysC", "Committee budget Monday approve. Schools new fund, road old. Expensive critic plan say.", Ref1, TargetLanguage: "en"),
        new JudgeItem("d2", "sysC", "Rain heavy valley flood night. Resident high ground go. Water noon recede begin.", Ref2, TargetLanguage: "en"),
    };

    private static string SystemOf(string prompt) =>
        prompt.Contains("Committee budget Monday") || prompt.Contains("Rain heavy valley") ? "sysC"
        : prompt.Contains("pay for new schools") || prompt.Contains("during the night") ? "sysB" : "sysA";

    // A well-behaved judge (with a few realistic formatting faults) whose verdicts follow the quality order A > B > C.
    private static ScriptedReply GoodJudge(SeenRequest r)
    {
        var sys = SystemOf(r.Prompt.Split("Text to evaluate").Last().Split("Translation to evaluate").Last());
        return DimensionOf(r.Prompt) switch
        {
            JudgeDimension.Fluency => sys switch
            {
                "sysA" => ScriptedReply.Ok("{\"fluency\": {\"score\": \"5\", \"explanation\": \"natural\"}}"),
                // code fence, raw newline, inner quotes, trailing comma
                "sysB" => ScriptedReply.Ok("```json\n{\"fluency\": {\"score\": \"4\", \"explanation\": \"uses \"costly\"\nslightly odd\",}}\n```"),
                _ => ScriptedReply.Ok("Fluency: 2 out of 5 - word salad."),
            },
            JudgeDimension.Accuracy => sys switch
            {
                "sysA" => ScriptedReply.Ok("{\"accuracy_mistakes\": []}"),
                "sysB" => ScriptedReply.Ok("{\"accuracy_mistakes\": [{\"type\": \"wrong translation\", \"description\": \"costly vs expensive\"}]}"),
                _ => ScriptedReply.Ok("{\"accuracy_mistakes\": [{\"type\": \"omission\", \"description\": \"a\"}, {\"type\": \"wrong translation\", \"description\": \"b\"}, \"Addition: c\"]}"),
            },
            JudgeDimension.Cohesion => sys switch
            {
                "sysA" => ScriptedReply.Ok("{\"cohesion\": {\"lexical_cohesion_mistakes\": [], \"grammatical_cohesion_mistakes\": []}}"),
                "sysB" => ScriptedReply.Ok("{\"cohesion\": {\"lexical_cohesion_mistakes\": [\"x\"], \"grammatical_cohesion_mistakes\": [\"y\"]}}"),
                _ => ScriptedReply.Ok("Lexical cohesion mistakes: [\"a\", \"b\"]\nGrammatical cohesion mistakes: [\"c\", \"d\"]"),
            },
            _ => ScriptedReply.Error(400),
        };
    }

    [Fact]
    public async Task EndToEndReportsPerDocumentPerSystemAndAgreement()
    {
        using var server = new LoopbackOpenAIServer(GoodJudge);
        var judge = LlmJudgeEvaluator.Create(Options(server.Endpoint));
        var report = await judge.EvaluateAsync(Items());

        Assert.Equal(18, server.Count);                          // 6 documents × 3 dimensions, one call each
        Assert.All(server.Requests, r => Assert.Equal("/v1/chat/completions", r.Path));
        Assert.All(server.Requests, r => Assert.Equal("judge-test", r.Model));
        Assert.Equal(0, report.FailedVerdicts);
        Assert.True(report.StatusCounts[JudgeStatus.Repaired] >= 2);
        Assert.True(report.StatusCounts[JudgeStatus.RegexFallback] >= 4);

        var docs = report.PerDocument();
        Assert.Equal(6, docs.Rows.Count);
        var c = report.Documents.First(d => d.Item.System == "sysC");
        Assert.Equal((2.0, 3, 2, 2), (c.Fluency!.Value, c.ContentErrors!.Value, c.LexicalErrors!.Value, c.GrammaticalErrors!.Value));
        Assert.Equal(1, c.ContentErrorsOfType("omission"));
        Assert.Equal(1, c.ContentErrorsOfType("addition"));

        var sys = report.PerSystem();
        Assert.Equal(new[] { "sysA", "sysB", "sysC" }, ((StringDataFrameColumn)sys.Columns["system"]).ToArray());
        Assert.Equal(new double?[] { 5, 4, 2 }, ((DoubleDataFrameColumn)sys.Columns["fluency"]).ToArray());
        Assert.Equal(100.0, (double)sys.Columns["avg_bleu"][0]!, 9);
        Assert.True((double)sys.Columns["avg_bleu"][1]! > (double)sys.Columns["avg_bleu"][2]!);
        for (long i = 0; i < 3; i++)
            Assert.InRange((double)sys.Columns["avg_bleu"][i]!, (double)sys.Columns["avg_bleu_lo"][i]!, (double)sys.Columns["avg_bleu_hi"][i]!);

        var agree = report.SystemAgreement("avg_bleu");
        Assert.All(((DoubleDataFrameColumn)agree.Columns["agreement_tau"]).ToArray(), t => Assert.Equal(1.0, t!.Value, 9));
        Assert.True((double)agree.Columns["pearson"][0]! > 0.9);
        var corr = report.DocumentCorrelations("kendall");
        Assert.Equal(6, corr.Rows.Count);
        Assert.Equal(1.0, (double)corr.Columns["bleu"][0]!, 12);
    }

    [Fact]
    public async Task TransientErrorsAreRetriedWithBackoff()
    {
        int n = 0;
        using var server = new LoopbackOpenAIServer(_ => Interlocked.Increment(ref n) switch
        {
            1 => ScriptedReply.Error(503),
            2 => ScriptedReply.Error(429, retryAfter: "0"),
            3 => ScriptedReply.Error(502),
            _ => ScriptedReply.Ok("{\"fluency\": {\"score\": \"3\"}}"),
        });
        var judge = LlmJudgeEvaluator.Create(Options(server.Endpoint));
        var v = await judge.JudgeAsync(Items()[0], JudgeDimension.Fluency);
        Assert.Equal(JudgeStatus.Ok, v.Status);
        Assert.Equal(3, v.Score);
        Assert.Equal(4, v.Attempts);
        Assert.Equal(4, server.Count);
    }

    [Fact]
    public async Task TimedOutAttemptIsRetried()
    {
        int n = 0;
        using var server = new LoopbackOpenAIServer(_ => Interlocked.Increment(ref n) == 1
            ? ScriptedReply.Hang(TimeSpan.FromSeconds(30))
            : ScriptedReply.Ok("{\"fluency\": {\"score\": 4}}"));
        var o = Options(server.Endpoint);
        o.RequestTimeout = TimeSpan.FromMilliseconds(1500);
        var sw = Stopwatch.StartNew();
        var v = await LlmJudgeEvaluator.Create(o).JudgeAsync(Items()[0], JudgeDimension.Fluency);
        Assert.True(v.Succeeded, v.Error);
        Assert.Equal(2, v.Attempts);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"took {sw.Elapsed}");
    }

    [Fact]
    public async Task AlwaysTimingOutBecomesAClearFailure()
    {
        using var server = new LoopbackOpenAIServer(_ => ScriptedReply.Hang(TimeSpan.FromSeconds(30)));
        var o = Options(server.Endpoint, null, JudgeDimension.Fluency);
        o.RequestTimeout = TimeSpan.FromMilliseconds(600);
        o.MaxRetries = 1;
        var report = await LlmJudgeEvaluator.Create(o).EvaluateAsync(Items().Take(1));
        var v = report.Documents[0].Verdicts[0];
        Assert.Equal(JudgeStatus.Failed, v.Status);
        Assert.Equal(2, v.Attempts);
        Assert.Contains("timed out", v.Error);
        Assert.Null(report.Documents[0].Fluency);
        Assert.True(double.IsNaN(report.SystemMean("sysA", "fluency").Mean));
    }

    [Fact]
    public async Task PersistentErrorsBecomeAClearPerItemFailureWithoutStoppingTheRun()
    {
        using var server = new LoopbackOpenAIServer(r =>
            r.Prompt.Contains("Heavy rain flooded the valley overnight") && r.Prompt.Contains("Text to evaluate") ? ScriptedReply.Error(500)
            : r.Prompt.Contains("Rain heavy valley") && r.Prompt.Contains("Text to evaluate") ? ScriptedReply.Error(401)
            : GoodJudge(r));
        var o = Options(server.Endpoint, null, JudgeDimension.Fluency);
        o.MaxRetries = 2;
        var report = await LlmJudgeEvaluator.Create(o).EvaluateAsync(Items());
        Assert.Equal(2, report.FailedVerdicts);
        var five = report.Documents.Single(d => d.Item.System == "sysA" && d.Item.DocumentId == "d2").Verdicts[0];
        Assert.Equal(JudgeStatus.Failed, five.Status);
        Assert.Equal(3, five.Attempts);                            // 1 + MaxRetries
        Assert.Contains("HTTP 500", five.Error);
        Assert.Contains("3 attempts", five.Error);
        var auth = report.Documents.Single(d => d.Item.System == "sysC" && d.Item.DocumentId == "d2").Verdicts[0];
        Assert.Equal(1, auth.Attempts);                            // 401 is not transient: no retry
        Assert.Contains("HTTP 401", auth.Error);
        Assert.Equal(4, report.Documents.Count(d => d.Fluency is not null));
        Assert.Equal(2, ((StringDataFrameColumn)report.PerDocument().Columns["error"]).Count(e => e is not null));
        Assert.Equal(1, (int)report.PerSystem().Columns["n_failed"][0]!);
    }

    [Fact]
    public async Task MalformedAnswersAreReaskedThenReportedAsUnparsable()
    {
        int n = 0;
        using var server = new LoopbackOpenAIServer(r =>
            r.Prompt.Contains("Committee budget Monday") ? ScriptedReply.Ok("I cannot decide, it is fine I guess.")
            : Interlocked.Increment(ref n) == 1 ? ScriptedReply.Ok("<garbage>") : ScriptedReply.Ok("{\"fluency\": {\"score\": \"5\"}}"));
        var judge = LlmJudgeEvaluator.Create(Options(server.Endpoint));
        var good = await judge.JudgeAsync(Items()[0], JudgeDimension.Fluency);
        Assert.Equal((JudgeStatus.Ok, 2), (good.Status, good.Attempts));

        var bad = await judge.JudgeAsync(Items()[4], JudgeDimension.Fluency);
        Assert.Equal(JudgeStatus.Failed, bad.Status);
        Assert.Equal(3, bad.Attempts);                             // MaxParseRetries = 2 re-asks
        Assert.Contains("unparsable", bad.Error);
        var asks = server.Requests.Where(r => r.Prompt.Contains("Committee budget Monday")).OrderBy(r => r.Ordinal).ToArray();
        Assert.DoesNotContain("IMPORTANT", asks[1].Prompt);
        Assert.Contains("JSON object only", asks[2].Prompt);
    }

    [Fact]
    public async Task CacheMakesRerunFreeAndResumesAfterFailures()
    {
        var cache = Path.Combine(_tmp, "cache");
        bool healthy = false;
        using var server = new LoopbackOpenAIServer(r => !healthy && r.Prompt.Contains("Rain heavy valley") ? ScriptedReply.Error(500) : GoodJudge(r));
        var o = Options(server.Endpoint, cache);
        o.MaxRetries = 1;
        var first = await LlmJudgeEvaluator.Create(o).EvaluateAsync(Items());
        Assert.Equal(3, first.FailedVerdicts);
        Assert.Equal(15, new JudgeCache(cache).Count);            // every finished judgement is on disk

        healthy = true;
        int before = server.Count;
        var second = await LlmJudgeEvaluator.Create(o).EvaluateAsync(Items());
        Assert.Equal(3, server.Count - before);                    // only the failed ones are asked again
        Assert.Equal(0, second.FailedVerdicts);
        Assert.Equal(15, second.CachedVerdicts);

        before = server.Count;
        var third = await LlmJudgeEvaluator.Create(o).EvaluateAsync(Items());
        Assert.Equal(before, server.Count);                        // a rerun is free
        Assert.Equal(0, third.HttpAttempts);
        Assert.Equal(second.PerSystem().Columns["fluency"].Cast<double?>(), third.PerSystem().Columns["fluency"].Cast<double?>());
    }

    [Fact]
    public async Task A200WithATruncatedOrHtmlBodyIsRetriedLikeA5xx()
    {
        // Issue 13.7: these failed after one attempt.
        int n = 0;
        using var server = new LoopbackOpenAIServer(_ => Interlocked.Increment(ref n) switch
        {
            1 => ScriptedReply.Raw("{\"id\": \"chatcmpl-1\", \"object\": \"chat.completion\", \"choi"),
            2 => ScriptedReply.Raw("<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"),
            _ => ScriptedReply.Ok("{\"fluency\": {\"score\": \"4\"}}"),
        });
        var judge = LlmJudgeEvaluator.Create(Options(server.Endpoint));
        var v = await judge.JudgeAsync(Items()[0], JudgeDimension.Fluency);
        Assert.Equal(JudgeStatus.Ok, v.Status);
        Assert.Equal(4, v.Score);
        Assert.Equal(3, v.Attempts);
        Assert.Equal(3, judge.HttpAttempts);

        // Bounded: a server that only ever sends HTML fails after 1 + MaxRetries attempts, naming the failure.
        using var broken = new LoopbackOpenAIServer(_ => ScriptedReply.Raw("<html>maintenance</html>", "text/html"));
        var v2 = await LlmJudgeEvaluator.Create(Options(broken.Endpoint)).JudgeAsync(Items()[0], JudgeDimension.Fluency);
        Assert.NotEqual(JudgeStatus.Ok, v2.Status);
        Assert.Equal(4, broken.Count);
    }

    [Fact]
    public async Task HttpAttemptsCountsRequestsOfACancelledEvaluation()
    {
        using var cts = new CancellationTokenSource();
        using var server = new LoopbackOpenAIServer(r =>
        {
            if (r.Ordinal == 3) cts.Cancel();
            return GoodJudge(r);
        });
        var o = Options(server.Endpoint);
        o.MaxConcurrency = 1;
        var judge = LlmJudgeEvaluator.Create(o);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => judge.EvaluateAsync(Items(), cancellationToken: cts.Token));
        Assert.True(server.Count >= 3);
        Assert.Equal(server.Count, judge.HttpAttempts); // was 0 after a cancellation
    }

    [Fact]
    public async Task InterruptedEvaluationResumesWithoutLosingFinishedJudgements()
    {
        var cache = Path.Combine(_tmp, "resume");
        using var cts = new CancellationTokenSource();
        using var server = new LoopbackOpenAIServer(r =>
        {
            if (r.Ordinal == 6) cts.Cancel();                      // the user interrupts during the 6th call
            return GoodJudge(r);
        });
        var o = Options(server.Endpoint, cache);
        o.MaxConcurrency = 1;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => LlmJudgeEvaluator.Create(o).EvaluateAsync(Items(), cancellationToken: cts.Token));
        int saved = new JudgeCache(cache).Count;
        Assert.InRange(saved, 5, 6);

        int before = server.Count;
        var report = await LlmJudgeEvaluator.Create(o).EvaluateAsync(Items());
        Assert.Equal(18 - saved, server.Count - before);
        Assert.Equal(saved, report.CachedVerdicts);
        Assert.Equal(0, report.FailedVerdicts);
    }

    [Fact]
    public async Task PairwiseSwapsPositionsToCancelPositionBias()
    {
        // A judge that always prefers whatever is shown first: every pair flips with the order and becomes a tie.
        using (var biased = new LoopbackOpenAIServer(_ => ScriptedReply.Ok("{\"better\": \"1\", \"reason\": \"first\"}")))
        {
            var report = await LlmJudgeEvaluator.Create(Options(biased.Endpoint)).ComparePairwiseAsync(Pairs());
            Assert.Equal(4, biased.Count);
            Assert.All(report.Judgements, j => Assert.Equal("tie", j.Winner));
            Assert.Equal(1.0, report.InconsistencyRate);
            Assert.Equal(1.0, report.FirstPositionWinRate);
        }
        // A judge that recognises the better text wherever it is shown: consistent wins for A.
        using var fair = new LoopbackOpenAIServer(r =>
        {
            var t1 = r.Prompt.Split("### Translation 1").Last().Split("### Translation 2")[0];
            return ScriptedReply.Ok(t1.Contains("Committee budget") || t1.Contains("Rain heavy") ? "{\"better\": \"2\"}" : "{\"better\": \"1\"}");
        });
        var r2 = await LlmJudgeEvaluator.Create(Options(fair.Endpoint)).ComparePairwiseAsync(Pairs());
        Assert.Equal(1.0, r2.WinRateA);
        Assert.Equal(0.0, r2.InconsistencyRate);
        Assert.Equal(0.5, r2.FirstPositionWinRate);
        Assert.Equal(2, r2.ToDataFrame().Rows.Count);
    }

    private static PairwiseItem[] Pairs()
    {
        var it = Items();
        return new[]
        {
            new PairwiseItem("d1", "sysA", it[0].Hypothesis, "sysC", it[4].Hypothesis, Ref1, TargetLanguage: "en"),
            new PairwiseItem("d2", "sysA", it[1].Hypothesis, "sysC", it[5].Hypothesis, Ref2, TargetLanguage: "en"),
        };
    }

    private sealed class Row
    {
        public string Source { get; set; } = "";
        public string Reference { get; set; } = "";
        public string Hypothesis { get; set; } = "";
        public string System { get; set; } = "";
    }

    [Fact]
    public async Task RunsOverAnIDataViewAndNamesAMissingColumn()
    {
        using var server = new LoopbackOpenAIServer(GoodJudge);
        var ml = new MLContext(seed: 1);
        var rows = Items().Select(i => new Row { Source = "src " + i.DocumentId, Reference = i.Reference!, Hypothesis = i.Hypothesis, System = i.System }).ToArray();
        var data = ml.Data.LoadFromEnumerable(rows);
        var judge = LlmJudgeEvaluator.Create(Options(server.Endpoint, null, JudgeDimension.Fluency, JudgeDimension.Accuracy));
        var report = await judge.EvaluateAsync(data, systemColumn: "System", targetLanguage: "en");
        Assert.Equal(6, report.Documents.Count);
        Assert.Equal(new double?[] { 5, 4, 2 }, ((DoubleDataFrameColumn)report.PerSystem().Columns["fluency"]).ToArray());
        Assert.Equal("src d1", report.Documents[0].Item.Source);

        var e = await Assert.ThrowsAsync<ArgumentException>(() => judge.EvaluateAsync(data, referenceColumn: "Ref"));
        Assert.Contains("'Ref'", e.Message);
        Assert.Contains("'Reference'", e.Message);                 // lists the available columns
    }

    [Fact]
    public async Task ReferenceBasedDimensionsAreSkippedWithoutReferenceAndSourceAwareShowsTheSource()
    {
        using var server = new LoopbackOpenAIServer(GoodJudge);
        var judge = LlmJudgeEvaluator.Create(Options(server.Endpoint));
        var noRef = await judge.EvaluateAsync(new[] { new JudgeItem("d9", "sysA", Ref1, Reference: null, TargetLanguage: "en") });
        Assert.Equal(1, server.Count);                             // only Fluency is asked
        Assert.Equal(new[] { JudgeStatus.Ok, JudgeStatus.Skipped, JudgeStatus.Skipped }, noRef.Documents[0].Verdicts.Select(v => v.Status));
        Assert.Contains("reference-based", noRef.Documents[0].Verdicts[1].Error);

        var o = Options(server.Endpoint, null, JudgeDimension.Accuracy);
        o.SourceAware = true;
        // A document that itself contains a template placeholder must not be expanded.
        await LlmJudgeEvaluator.Create(o).JudgeAsync(new JudgeItem("d1", "sysA", Ref1 + " {reference}", Ref1, "Der Ausschuss billigte den Haushalt.", "en"), JudgeDimension.Accuracy);
        var prompt = server.Requests.OrderBy(r => r.Ordinal).Last().Prompt;
        Assert.Contains("Der Ausschuss billigte den Haushalt.", prompt);
        Assert.Contains(Ref1 + " {reference}", prompt);
        Assert.DoesNotContain("{source}", prompt);
    }

    [Fact]
    public void OptionsComeFromEnvironmentAndMissingConfigurationIsExplained()
    {
        var names = new[] { "MLNETEXT_LLM_ENDPOINT", "MLNETEXT_LLM_API_KEY", "MLNETEXT_LLM_MODEL", "MLNETEXT_JUDGE_MODEL", "MLNETEXT_JUDGE_CACHE", "OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL" };
        var saved = names.ToDictionary(n => n, Environment.GetEnvironmentVariable);
        try
        {
            foreach (var n in names) Environment.SetEnvironmentVariable(n, null);
            var empty = LlmJudgeOptions.FromEnvironment();
            Assert.False(empty.IsConfigured);
            var e = Assert.Throws<InvalidOperationException>(() => LlmJudgeEvaluator.Create(empty));
            Assert.Contains("MLNETEXT_LLM_ENDPOINT", e.Message);

            Environment.SetEnvironmentVariable("OPENAI_BASE_URL", "http://127.0.0.1:9/v1");
            Environment.SetEnvironmentVariable("MLNETEXT_LLM_MODEL", "translator-model");
            Environment.SetEnvironmentVariable("MLNETEXT_JUDGE_MODEL", "judge-model");
            Environment.SetEnvironmentVariable("MLNETEXT_JUDGE_CACHE", _tmp);
            var o = LlmJudgeOptions.FromEnvironment();
            Assert.Equal(new Uri("http://127.0.0.1:9/v1"), o.Endpoint);
            Assert.Equal("judge-model", o.Model);
            Assert.Equal(_tmp, o.CacheDirectory);
            Assert.Equal("translator-model", MLNetExtensions.Evaluators.Translation.Translate.DocumentTranslatorOptions.FromEnvironment().Model);

            Environment.SetEnvironmentVariable("MLNETEXT_LLM_ENDPOINT", "not a url");
            Assert.Contains("absolute URL", Assert.Throws<ArgumentException>(() => LlmJudgeOptions.FromEnvironment()).Message);
        }
        finally
        {
            foreach (var (n, v) in saved) Environment.SetEnvironmentVariable(n, v);
        }
    }
}

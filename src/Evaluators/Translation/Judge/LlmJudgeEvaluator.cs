using System.Globalization;
using Microsoft.Extensions.AI;
using Microsoft.ML;
using MLNetExtensions.Evaluators.Translation.Llm;

namespace MLNetExtensions.Evaluators.Translation.Judge;

/// <summary>
/// LLM-as-a-judge for document-level MT (Sun et al. 2024, BLEUless_DocMT protocol): pointwise, one call per
/// document and dimension — Fluency (1–5, target only), Accuracy (content-error list vs the reference) and
/// Cohesion (lexical and grammatical error lists vs the reference) — through any <see cref="IChatClient"/>.
/// Answers are parsed leniently, re-asked when unreadable, retried with backoff on transport errors, cached on
/// disk by content hash, and run with bounded concurrency. A failed item is reported, never thrown.
/// </summary>
public sealed class LlmJudgeEvaluator
{
    private readonly ResilientChat _chat;
    private readonly JudgeCache? _cache;
    private int _cacheHits;

    /// <summary>Creates a judge over an existing chat client.</summary>
    public LlmJudgeEvaluator(IChatClient chatClient, LlmJudgeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(chatClient);
        Options = options ?? new LlmJudgeOptions();
        if (Options.MaxConcurrency < 1) throw new ArgumentOutOfRangeException(nameof(options), "MaxConcurrency must be at least 1.");
        _chat = new ResilientChat(chatClient, Options);
        _cache = Options.CacheDirectory is null ? null : new JudgeCache(Options.CacheDirectory);
    }

    /// <summary>Creates a judge over an OpenAI-compatible endpoint described by <paramref name="options"/>.</summary>
    public static LlmJudgeEvaluator Create(LlmJudgeOptions options) => new(options.CreateChatClient(), options);

    /// <summary>Creates a judge from environment variables (<see cref="LlmJudgeOptions.FromEnvironment"/>).</summary>
    public static LlmJudgeEvaluator FromEnvironment() => Create(LlmJudgeOptions.FromEnvironment());

    /// <summary>The options in use.</summary>
    public LlmJudgeOptions Options { get; }

    /// <summary>HTTP attempts made so far by this instance.</summary>
    public int HttpAttempts => _chat.Attempts;

    /// <summary>Answers served from the cache so far.</summary>
    public int CacheHits => _cacheHits;

    private static bool NeedsReference(JudgeDimension d) => d != JudgeDimension.Fluency;

    private string BuildPrompt(JudgeItem item, JudgeDimension d)
    {
        var p = Options.Prompts;
        var template = d switch { JudgeDimension.Fluency => p.Fluency, JudgeDimension.Accuracy => p.Accuracy, _ => p.Cohesion };
        if (Options.SourceAware && NeedsReference(d) && !string.IsNullOrEmpty(item.Source)) template += p.SourceBlock;
        return JudgePromptProfile.Fill(template, new Dictionary<string, string?>
        {
            ["language"] = JudgePromptProfile.LanguageName(item.TargetLanguage),
            ["reference"] = item.Reference,
            ["translation"] = item.Hypothesis,
            ["source"] = item.Source,
        });
    }

    private string CacheKey(string kind, string prompt) => JudgeCache.Key(
        "judge/v1", Options.Model, Options.Prompts.Id, Options.Prompts.Version, kind, prompt,
        Options.Temperature.ToString("R", CultureInfo.InvariantCulture), Options.MaxOutputTokens?.ToString(CultureInfo.InvariantCulture),
        Options.Seed?.ToString(CultureInfo.InvariantCulture), Options.RequestJsonMode ? "json" : "text");

    /// <summary>Judges one document on one dimension.</summary>
    public async Task<JudgeVerdict> JudgeAsync(JudgeItem item, JudgeDimension dimension, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(item);
        if (NeedsReference(dimension) && string.IsNullOrWhiteSpace(item.Reference))
            return new JudgeVerdict { Dimension = dimension, Status = JudgeStatus.Skipped, Error = $"{dimension} is reference-based and the item has no reference" };
        if (string.IsNullOrWhiteSpace(item.Hypothesis))
            return new JudgeVerdict { Dimension = dimension, Status = JudgeStatus.Skipped, Error = "empty hypothesis" };
        var prompt = BuildPrompt(item, dimension);
        // The cache key covers the whole prompt, hence the texts, language and template wording.
        var key = CacheKey(dimension.ToString(), prompt);
        var (raw, attempts, error) = await AskAsync(key, dimension.ToString(), prompt, r => JudgeResponseParser.Parse(dimension, r).Succeeded, cancellationToken).ConfigureAwait(false);
        if (raw is null) return new JudgeVerdict { Dimension = dimension, Status = JudgeStatus.Failed, Attempts = attempts, Error = error };
        var v = JudgeResponseParser.Parse(dimension, raw);
        return v with { Attempts = attempts, FromCache = attempts == 0, Error = v.Succeeded ? null : error ?? v.Error };
    }

    /// <summary>
    /// Asks until <paramref name="valid"/> accepts an answer (bounded re-asks), with the cache in front.
    /// Returns the accepted raw answer, or the last raw answer (or null) with an error.
    /// </summary>
    private async Task<(string? Raw, int Attempts, string? Error)> AskAsync(string key, string kind, string prompt, Func<string, bool> valid, CancellationToken ct)
    {
        if (_cache is not null && _cache.TryGet(key, out var hit) && valid(hit!.Raw))
        {
            Interlocked.Increment(ref _cacheHits);
            return (hit.Raw, 0, null);
        }
        int attempts = 0;
        string? last = null;
        for (int ask = 0; ask <= Options.MaxParseRetries; ask++)
        {
            var text = ask >= 2 ? prompt + Options.Prompts.JsonReminder : prompt;
            var outcome = await _chat.CompleteAsync(new List<ChatMessage> { new(ChatRole.User, text) }, Options.RequestJsonMode, ct).ConfigureAwait(false);
            attempts += outcome.Attempts;
            if (!outcome.Succeeded) return (null, attempts, outcome.Error);
            last = outcome.Text!;
            if (valid(last))
            {
                _cache?.Put(key, new JudgeCache.Entry(last, attempts, kind, Options.Model, $"{Options.Prompts.Id}/{Options.Prompts.Version}"));
                return (last, Math.Max(attempts, 1), null);
            }
        }
        return (last, attempts, $"unparsable answer after {Options.MaxParseRetries + 1} tries");
    }

    /// <summary>
    /// Judges every item on every configured dimension (bounded concurrency) and aggregates per document and per
    /// system. Failures are recorded per item; only the caller's cancellation throws (finished answers stay cached).
    /// </summary>
    public async Task<JudgeReport> EvaluateAsync(IEnumerable<JudgeItem> items, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        var list = items?.ToList() ?? throw new ArgumentNullException(nameof(items));
        var dims = Options.Dimensions.Distinct().ToArray();
        var verdicts = new JudgeVerdict[list.Count, dims.Length];
        int done = 0;
        var units = Enumerable.Range(0, list.Count).SelectMany(i => Enumerable.Range(0, dims.Length).Select(d => (i, d)));
        await Parallel.ForEachAsync(units, new ParallelOptions { MaxDegreeOfParallelism = Options.MaxConcurrency, CancellationToken = cancellationToken },
            async (u, ct) =>
            {
                JudgeVerdict v;
                try { v = await JudgeAsync(list[u.i], dims[u.d], ct).ConfigureAwait(false); }
                catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    v = new JudgeVerdict { Dimension = dims[u.d], Status = JudgeStatus.Failed, Error = $"{e.GetType().Name}: {e.Message}" };
                }
                verdicts[u.i, u.d] = v;
                progress?.Report(Interlocked.Increment(ref done));
            }).ConfigureAwait(false);
        var docs = list.Select((item, i) => new DocumentJudgement(item, Enumerable.Range(0, dims.Length).Select(d => verdicts[i, d]).ToArray())).ToArray();
        return new JudgeReport(docs, Options);
    }

    /// <summary>
    /// Judges the rows of an ML.NET <see cref="IDataView"/> with text columns. Hypothesis and reference are required;
    /// pass null for the optional columns you do not have. A missing or non-text column is reported by name.
    /// </summary>
    public Task<JudgeReport> EvaluateAsync(IDataView data, string hypothesisColumn = "Hypothesis", string? referenceColumn = "Reference",
        string? sourceColumn = "Source", string? systemColumn = null, string? documentIdColumn = null, string? targetLanguage = null,
        IProgress<int>? progress = null, CancellationToken cancellationToken = default) =>
        EvaluateAsync(DataViewItems.Read(data, hypothesisColumn, referenceColumn, sourceColumn, systemColumn, documentIdColumn, targetLanguage), progress, cancellationToken);

    /// <summary>
    /// Pairwise comparison of two systems per document. Each pair is judged twice with the positions swapped;
    /// a verdict that flips with the order becomes a tie, and the inconsistency rate measures position bias.
    /// </summary>
    public async Task<PairwiseReport> ComparePairwiseAsync(IEnumerable<PairwiseItem> items, CancellationToken cancellationToken = default)
    {
        var list = items?.ToList() ?? throw new ArgumentNullException(nameof(items));
        var results = new PairwiseJudgement[list.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, list.Count), new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Options.MaxConcurrency / 2), CancellationToken = cancellationToken },
            async (i, ct) =>
            {
                var it = list[i];
                try
                {
                    var first = PreferenceAsync(it, it.HypothesisA, it.HypothesisB, ct);
                    var second = PreferenceAsync(it, it.HypothesisB, it.HypothesisA, ct);
                    var (p1, e1) = await first.ConfigureAwait(false);
                    var (p2, e2) = await second.ConfigureAwait(false);
                    results[i] = PairwiseJudgement.Combine(it, p1, p2, e1 ?? e2);
                }
                catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    results[i] = PairwiseJudgement.Combine(it, null, null, $"{e.GetType().Name}: {e.Message}");
                }
            }).ConfigureAwait(false);
        return new PairwiseReport(results);
    }

    private async Task<(string? Preference, string? Error)> PreferenceAsync(PairwiseItem it, string first, string second, CancellationToken ct)
    {
        var prompt = JudgePromptProfile.Fill(Options.Prompts.Pairwise, new Dictionary<string, string?>
        {
            ["language"] = JudgePromptProfile.LanguageName(it.TargetLanguage),
            ["reference"] = it.Reference ?? "(no reference available)",
            ["translation_1"] = first,
            ["translation_2"] = second,
            ["source"] = it.Source,
        });
        var (raw, _, error) = await AskAsync(CacheKey("pairwise", prompt), "pairwise", prompt, r => JudgeResponseParser.ParsePreference(r) is not null, ct).ConfigureAwait(false);
        var p = JudgeResponseParser.ParsePreference(raw);
        return (p, p is null ? error ?? "unparsable answer" : null);
    }
}

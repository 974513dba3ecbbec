using Microsoft.Extensions.AI;
using MLNetExtensions.Evaluators.Translation.Judge;
using MLNetExtensions.Evaluators.Translation.Llm;
using MLNetExtensions.Evaluators.Translation.Metrics;

namespace MLNetExtensions.Evaluators.Translation.Translate;

/// <summary>How a document is sent to the model (the paper's ST[k] and DOC settings).</summary>
public enum TranslationMode
{
    /// <summary>One call per sentence, no context (ST1).</summary>
    Sentence,
    /// <summary>One call per chunk of <see cref="DocumentTranslatorOptions.ChunkSize"/> consecutive sentences (ST[k]).</summary>
    Chunk,
    /// <summary>The whole document in one call (DOC).</summary>
    Document,
}

/// <summary>Settings of <see cref="DocumentTranslator"/> (endpoint and resilience inherited).</summary>
public sealed class DocumentTranslatorOptions : LlmClientOptions
{
    /// <summary>Source language (code or English name).</summary>
    public string SourceLanguage { get; set; } = "de";
    /// <summary>Target language (code or English name).</summary>
    public string TargetLanguage { get; set; } = "en";
    /// <summary>Default mode.</summary>
    public TranslationMode Mode { get; set; } = TranslationMode.Document;
    /// <summary>k of ST[k] for <see cref="TranslationMode.Chunk"/>.</summary>
    public int ChunkSize { get; set; } = 3;
    /// <summary>Prompt; placeholders <c>{source_language}</c>, <c>{target_language}</c>, <c>{text}</c>.</summary>
    public string PromptTemplate { get; set; } =
        "Translate the following {source_language} text into {target_language}. Reply with the translation only, without notes or explanations.\n\n{text}";

    /// <summary>Options from the environment (<see cref="LlmClientOptions.ConfigurationHelp"/>).</summary>
    public static DocumentTranslatorOptions FromEnvironment()
    {
        var o = new DocumentTranslatorOptions();
        o.ReadEnvironment();
        return o;
    }
}

/// <summary>A source document given as its sentences.</summary>
public sealed record SourceDocument(string Id, IReadOnlyList<string> Sentences);

/// <summary>A translated document.</summary>
/// <param name="Id">Document id.</param>
/// <param name="Mode">How it was translated.</param>
/// <param name="Source">Source sentences.</param>
/// <param name="Target">One target string per source sentence (realigned; see <see cref="SentenceAligner.Project"/>).</param>
/// <param name="Text">The whole translation on one line (newlines replaced), as scored by d-BLEU and the judge.</param>
/// <param name="Alignment">Alignment beads between source and model-output sentences.</param>
/// <param name="Calls">Logical requests made.</param>
/// <param name="Attempts">HTTP attempts made.</param>
/// <param name="Error">Failure reason (the failed chunks are left empty), or null.</param>
public sealed record TranslatedDocument(string Id, TranslationMode Mode, IReadOnlyList<string> Source, IReadOnlyList<string> Target, string Text,
    IReadOnlyList<AlignmentBead> Alignment, int Calls, int Attempts, string? Error)
{
    /// <summary>True when some request failed.</summary>
    public bool Failed => Error is not null;
}

/// <summary>
/// Translates documents through an <see cref="IChatClient"/> sentence by sentence, in chunks of k sentences, or
/// as a whole document, and realigns the output sentences with the source sentences. Requests go through the same
/// retry/timeout pipeline as the judge; a failed request is reported in the result, never thrown.
/// </summary>
public sealed class DocumentTranslator
{
    private readonly ResilientChat _chat;

    /// <summary>Creates a translator over an existing chat client.</summary>
    public DocumentTranslator(IChatClient chatClient, DocumentTranslatorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(chatClient);
        Options = options ?? new DocumentTranslatorOptions();
        if (Options.ChunkSize < 1) throw new ArgumentOutOfRangeException(nameof(options), "ChunkSize must be at least 1.");
        _chat = new ResilientChat(chatClient, Options);
    }

    /// <summary>Creates a translator over the OpenAI-compatible endpoint of <paramref name="options"/>.</summary>
    public static DocumentTranslator Create(DocumentTranslatorOptions options) => new(options.CreateChatClient(), options);

    /// <summary>The options in use.</summary>
    public DocumentTranslatorOptions Options { get; }

    /// <summary>Translates one document.</summary>
    public async Task<TranslatedDocument> TranslateAsync(SourceDocument document, TranslationMode? mode = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(document);
        var m = mode ?? Options.Mode;
        int k = m switch { TranslationMode.Sentence => 1, TranslationMode.Chunk => Options.ChunkSize, _ => Math.Max(1, document.Sentences.Count) };
        var sourceSep = DocumentAssembler.SeparatorFor(Options.SourceLanguage);
        var targetSep = DocumentAssembler.SeparatorFor(Options.TargetLanguage);
        var chunks = DocumentAssembler.Chunk(document.Sentences, k);
        var outputs = new List<string>();
        var beads = new List<AlignmentBead>();
        var target = new List<string>();
        int attempts = 0, offsetS = 0, offsetT = 0;
        var errors = new List<string>();
        foreach (var chunk in chunks)
        {
            var prompt = JudgePromptProfile.Fill(Options.PromptTemplate, new Dictionary<string, string?>
            {
                ["source_language"] = JudgePromptProfile.LanguageName(Options.SourceLanguage),
                ["target_language"] = JudgePromptProfile.LanguageName(Options.TargetLanguage),
                ["text"] = string.Join(sourceSep, chunk),
            });
            var outcome = await _chat.CompleteAsync(new List<ChatMessage> { new(ChatRole.User, prompt) }, json: false, cancellationToken).ConfigureAwait(false);
            attempts += outcome.Attempts;
            var text = outcome.Succeeded ? Clean(outcome.Text!) : "";
            if (!outcome.Succeeded) errors.Add($"sentences {offsetS + 1}-{offsetS + chunk.Count}: {outcome.Error}");
            // A single sentence maps to the whole output; longer chunks are split and realigned.
            var sentences = chunk.Count == 1 ? (text.Length > 0 ? new[] { Flatten(text) } : Array.Empty<string>()) : SentenceSplitter.Split(text).ToArray();
            var local = chunk.Count == 1
                ? new[] { new AlignmentBead(new[] { 0 }, sentences.Length > 0 ? new[] { 0 } : Array.Empty<int>()) }
                : SentenceAligner.Align(chunk, sentences);
            target.AddRange(SentenceAligner.Project(chunk, sentences, local, targetSep));
            beads.AddRange(local.Select(b => new AlignmentBead(b.Source.Select(i => i + offsetS).ToArray(), b.Target.Select(i => i + offsetT).ToArray())));
            outputs.Add(text);
            offsetS += chunk.Count;
            offsetT += sentences.Length;
        }
        return new TranslatedDocument(document.Id, m, document.Sentences, target, DocumentAssembler.JoinChunks(outputs, Options.TargetLanguage),
            beads, chunks.Count, attempts, errors.Count == 0 ? null : string.Join("; ", errors));
    }

    /// <summary>Translates many documents with bounded concurrency (one document per worker), keeping input order.</summary>
    public async Task<IReadOnlyList<TranslatedDocument>> TranslateAsync(IEnumerable<SourceDocument> documents, TranslationMode? mode = null, CancellationToken cancellationToken = default)
    {
        var list = documents?.ToList() ?? throw new ArgumentNullException(nameof(documents));
        var results = new TranslatedDocument[list.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, list.Count), new ParallelOptions { MaxDegreeOfParallelism = Options.MaxConcurrency, CancellationToken = cancellationToken },
            async (i, ct) => results[i] = await TranslateAsync(list[i], mode, ct).ConfigureAwait(false)).ConfigureAwait(false);
        return results;
    }

    private static string Flatten(string s) => PyText.CollapseWhiteSpace(s);

    // Removes wrappers models often add: code fences and a leading "Translation:" / "Here is the translation:" line.
    internal static string Clean(string text)
    {
        var t = text.Trim();
        if (t.StartsWith("```", StringComparison.Ordinal))
        {
            int nl = t.IndexOf('\n');
            t = nl < 0 ? "" : t[(nl + 1)..];
            int end = t.LastIndexOf("```", StringComparison.Ordinal);
            if (end >= 0) t = t[..end];
            t = t.Trim();
        }
        var lines = t.Split('\n');
        if (lines.Length > 1 && lines[0].TrimEnd().EndsWith(':') && lines[0].Contains("translation", StringComparison.OrdinalIgnoreCase))
            t = string.Join('\n', lines.Skip(1)).Trim();
        else if (t.StartsWith("Translation:", StringComparison.OrdinalIgnoreCase))
            t = t["Translation:".Length..].Trim();
        return t;
    }
}

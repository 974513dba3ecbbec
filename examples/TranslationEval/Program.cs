// TranslationEval: sentence- vs document-level LLM translation, scored by BLEU/chrF and by an LLM judge.
//   dotnet run --project examples/TranslationEval [output-dir]
// With MLNETEXT_LLM_ENDPOINT / MLNETEXT_LLM_API_KEY / MLNETEXT_LLM_MODEL (or OPENAI_*) set, it translates the
// bundled documents both ways, judges them, and writes a scatter plot; without them it scores the bundled outputs.
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Analysis;
using MLNetExtensions.CommandLine;
using static MLNetExtensions.CommandLine.CommandLineApp;
using MLNetExtensions.Evaluators.Translation.Judge;
using MLNetExtensions.Evaluators.Translation.Llm;
using MLNetExtensions.Evaluators.Translation.Metrics;
using MLNetExtensions.Evaluators.Translation.Translate;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

var outA = new Argument<string>("output-dir") { Description = "Output folder.", DefaultValueFactory = _ => Path.Combine(Path.GetTempPath(), "mlnetext-translation-eval") };
var root = new RootCommand("Sentence- vs document-level LLM translation scored by BLEU/chrF and an LLM judge; without an LLM endpoint " +
    "(MLNETEXT_LLM_ENDPOINT / MLNETEXT_LLM_API_KEY / MLNETEXT_LLM_MODEL) it scores the bundled outputs. " + ExitCodesHelp) { outA };
if (CommandLineApp.Parse(root, args, out int exit) is not { } cli) return exit;
var outDir = Path.GetFullPath(cli.GetValue(outA)!);
Directory.CreateDirectory(outDir);
var data = BundledSet.Load(Path.Combine(AppContext.BaseDirectory, "data", "docs.json"));
Console.WriteLine($"Bundled set: {data.Documents.Count} documents, {data.SourceLanguage}->{data.TargetLanguage}, " +
                  $"{data.Documents.Sum(d => d.Source.Count)} sentences.\n");

var translatorOptions = DocumentTranslatorOptions.FromEnvironment();
translatorOptions.SourceLanguage = data.SourceLanguage;
translatorOptions.TargetLanguage = data.TargetLanguage;

if (!translatorOptions.IsConfigured)
{
    Console.WriteLine("No LLM endpoint is configured, so translation and judging are skipped.");
    Console.WriteLine(LlmClientOptions.ConfigurationHelp);
    Console.WriteLine("For example, with a local vLLM / llama.cpp / Ollama server:");
    Console.WriteLine("  export MLNETEXT_LLM_ENDPOINT=http://localhost:8000/v1 MLNETEXT_LLM_API_KEY=none MLNETEXT_LLM_MODEL=Qwen2.5-7B-Instruct");
    Console.WriteLine("Optional: MLNETEXT_JUDGE_MODEL (a different judge model), MLNETEXT_JUDGE_CACHE (judge cache directory).\n");
    Console.WriteLine("Scoring the bundled offline outputs instead (ST1 = sentence by sentence, DOC = whole document):\n");
    var offline = new Dictionary<string, IReadOnlyList<string>>
    {
        ["ST1"] = data.Documents.Select(d => DocumentAssembler.JoinChunks(d.St1, data.TargetLanguage)).ToArray(),
        ["DOC"] = data.Documents.Select(d => d.Doc).ToArray(),
    };
    Reports.PrintMetrics(data, offline);
    var st1Sentences = data.Documents.SelectMany(d => d.St1).ToArray();
    var refSentences = data.Documents.SelectMany(d => d.Reference).ToArray();
    var sentBleu = new Bleu().CorpusScore(st1Sentences, new IReadOnlyList<string?>[] { refSentences });
    Console.WriteLine($"\nST1 sentence-level corpus BLEU (segments = sentences): {sentBleu.Format(withSignature: true)}");
    return 0;
}

Console.WriteLine($"Endpoint: {translatorOptions.Endpoint?.ToString() ?? "api.openai.com"}, model {translatorOptions.Model}\n");
var translator = DocumentTranslator.Create(translatorOptions);
var sources = data.Documents.Select(d => new SourceDocument(d.Id, d.Source)).ToArray();
var systems = new Dictionary<string, IReadOnlyList<TranslatedDocument>>();
foreach (var (name, mode) in new[] { ("ST1", TranslationMode.Sentence), ("DOC", TranslationMode.Document) })
{
    Console.Write($"Translating ({name}, {mode}) ... ");
    var result = await translator.TranslateAsync(sources, mode);
    systems[name] = result;
    Console.WriteLine($"{result.Sum(r => r.Calls)} calls, {result.Count(r => r.Failed)} documents with failures");
    foreach (var f in result.Where(r => r.Failed)) Console.WriteLine($"  {f.Id}: {f.Error}");
}
var hypotheses = systems.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<string>)kv.Value.Select(t => t.Text).ToArray());
Console.WriteLine();
Reports.PrintMetrics(data, hypotheses);

var judgeOptions = LlmJudgeOptions.FromEnvironment();
judgeOptions.CacheDirectory ??= Path.Combine(outDir, "judge-cache");
var judge = LlmJudgeEvaluator.Create(judgeOptions);
var items = hypotheses.SelectMany(kv => kv.Value.Select((h, i) =>
    new JudgeItem(data.Documents[i].Id, kv.Key, h, data.Documents[i].ReferenceText(data.TargetLanguage), data.Documents[i].SourceText(data.SourceLanguage), data.TargetLanguage)))
    .ToArray();
Console.WriteLine($"\nJudging {items.Length} documents x {judgeOptions.Dimensions.Count} dimensions with {judgeOptions.Model} (cache: {judgeOptions.CacheDirectory}) ...");
var report = await judge.EvaluateAsync(items);
Console.WriteLine($"HTTP attempts {report.HttpAttempts}, cached {report.CachedVerdicts}, failed {report.FailedVerdicts}; " +
                  string.Join(", ", report.StatusCounts.Select(kv => $"{kv.Key} {kv.Value}")));
Reports.PrintJudge(report);

var pairwise = await judge.ComparePairwiseAsync(data.Documents.Select((d, i) =>
    new PairwiseItem(d.Id, "DOC", hypotheses["DOC"][i], "ST1", hypotheses["ST1"][i], d.ReferenceText(data.TargetLanguage), TargetLanguage: data.TargetLanguage)));
Console.WriteLine($"\nPairwise DOC vs ST1 (both orders): DOC wins {pairwise.WinRateA:P0}, ST1 wins {pairwise.WinRateB:P0}, ties {pairwise.TieRate:P0}; " +
                  $"order-inconsistent {pairwise.InconsistencyRate:P0}, first-shown wins {pairwise.FirstPositionWinRate:P0}, failed {pairwise.Failed}");

var csv = Path.Combine(outDir, "per_document.csv");
DataFrame.SaveCsv(report.PerDocument(), csv);
var png = Path.Combine(outDir, "judge_vs_bleu.png");
Reports.Scatter(report, png);
Console.WriteLine($"\nWrote {csv}\nWrote {png}");
return 0;

/// <summary>The bundled documents.</summary>
internal sealed record BundledDoc(string Id, IReadOnlyList<string> Source, IReadOnlyList<string> Reference, IReadOnlyList<string> St1, string Doc)
{
    public string ReferenceText(string lang) => DocumentAssembler.JoinChunks(Reference, lang);
    public string SourceText(string lang) => DocumentAssembler.JoinChunks(Source, lang);
}

internal sealed record BundledSet(string SourceLanguage, string TargetLanguage, IReadOnlyList<BundledDoc> Documents)
{
    public static BundledSet Load(string path)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(path));
        var root = json.RootElement;
        string[] S(JsonElement e) => e.EnumerateArray().Select(x => x.GetString()!).ToArray();
        var docs = root.GetProperty("documents").EnumerateArray().Select(d => new BundledDoc(
            d.GetProperty("id").GetString()!, S(d.GetProperty("source")), S(d.GetProperty("reference")), S(d.GetProperty("ST1")), d.GetProperty("DOC").GetString()!)).ToArray();
        return new BundledSet(root.GetProperty("source_language").GetString()!, root.GetProperty("target_language").GetString()!, docs);
    }
}

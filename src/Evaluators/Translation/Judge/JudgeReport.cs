using Microsoft.Data.Analysis;
using MLNetExtensions.Evaluators.Translation.Metrics;
using MLNetExtensions.Evaluators.Translation.Statistics;

namespace MLNetExtensions.Evaluators.Translation.Judge;

/// <summary>
/// Judge results with per-document and per-system tables (bootstrap confidence intervals over documents),
/// BLEU/chrF beside the judge, and judge–BLEU agreement across systems and documents.
/// </summary>
public sealed class JudgeReport
{
    /// <summary>Judge metrics, in table order. Fluency: higher is better; error counts: lower is better.</summary>
    public static IReadOnlyList<string> JudgeMetrics { get; } = new[] { "fluency", "content_errors", "lexical_errors", "grammatical_errors" };

    private readonly LlmJudgeOptions _options;
    private readonly Lazy<DocRow[]> _rows;

    internal JudgeReport(IReadOnlyList<DocumentJudgement> documents, LlmJudgeOptions options)
    {
        Documents = documents;
        _options = options;
        _rows = new Lazy<DocRow[]>(() => documents.Select(Row).ToArray());
    }

    /// <summary>One entry per input item, in input order.</summary>
    public IReadOnlyList<DocumentJudgement> Documents { get; }
    /// <summary>Verdicts that failed after all retries.</summary>
    public int FailedVerdicts => Documents.Sum(d => d.Verdicts.Count(v => v.Status == JudgeStatus.Failed));
    /// <summary>Verdicts served from the cache.</summary>
    public int CachedVerdicts => Documents.Sum(d => d.Verdicts.Count(v => v.FromCache));
    /// <summary>HTTP attempts spent by this evaluation.</summary>
    public int HttpAttempts => Documents.Sum(d => d.Verdicts.Sum(v => v.Attempts));
    /// <summary>Verdicts per status.</summary>
    public IReadOnlyDictionary<JudgeStatus, int> StatusCounts =>
        Documents.SelectMany(d => d.Verdicts).GroupBy(v => v.Status).ToDictionary(g => g.Key, g => g.Count());

    private sealed record DocRow(DocumentJudgement J, double? Bleu, double? ChrF, int Tokens)
    {
        public double? Get(string metric) => metric switch
        {
            "fluency" => J.Fluency,
            "content_errors" => J.ContentErrors,
            "lexical_errors" => J.LexicalErrors,
            "grammatical_errors" => J.GrammaticalErrors,
            "bleu" => Bleu,
            "chrf" => ChrF,
            _ => throw new ArgumentException($"Unknown metric '{metric}'; expected bleu, chrf, {string.Join(", ", JudgeMetrics)}."),
        };
        public double? Per100(int? count) => count is null || Tokens == 0 ? null : 100.0 * count / Tokens;
    }

    private static DocRow Row(DocumentJudgement j)
    {
        var it = j.Item;
        var bleu = new Bleu(new BleuOptions { TargetLanguage = it.TargetLanguage });
        int tokens = PyText.Split(bleu.Preprocess(it.Hypothesis ?? "")).Count;
        if (string.IsNullOrEmpty(it.Reference)) return new DocRow(j, null, null, tokens);
        // Per-document BLEU as BLEUless_DocMT's ave_compute: the document scored as a one-segment corpus.
        var b = bleu.CorpusScore(new[] { it.Hypothesis! }, new IReadOnlyList<string?>[] { new[] { it.Reference } }).Score;
        var c = new ChrF().SentenceScore(it.Hypothesis!, new[] { it.Reference }).Score;
        return new DocRow(j, b, c, tokens);
    }

    /// <summary>One row per document: judge values, error-type breakdown, BLEU, chrF, status.</summary>
    public DataFrame PerDocument()
    {
        var rows = _rows.Value;
        var df = new DataFrame(
            new StringDataFrameColumn("system", rows.Select(r => r.J.Item.System)),
            new StringDataFrameColumn("document_id", rows.Select(r => r.J.Item.DocumentId)),
            new DoubleDataFrameColumn("fluency", rows.Select(r => r.J.Fluency)),
            new Int32DataFrameColumn("content_errors", rows.Select(r => r.J.ContentErrors)),
            new Int32DataFrameColumn("lexical_errors", rows.Select(r => r.J.LexicalErrors)),
            new Int32DataFrameColumn("grammatical_errors", rows.Select(r => r.J.GrammaticalErrors)));
        foreach (var t in JudgeResponseParser.MistakeTypes)
            df.Columns.Add(new Int32DataFrameColumn("ce_" + t, rows.Select(r => r.J.ContentErrorsOfType(t))));
        df.Columns.Add(new DoubleDataFrameColumn("bleu", rows.Select(r => r.Bleu)));
        df.Columns.Add(new DoubleDataFrameColumn("chrf", rows.Select(r => r.ChrF)));
        df.Columns.Add(new Int32DataFrameColumn("hyp_tokens", rows.Select(r => (int?)r.Tokens)));
        if (_options.NormalizePer100Tokens)
        {
            df.Columns.Add(new DoubleDataFrameColumn("content_errors_per_100", rows.Select(r => r.Per100(r.J.ContentErrors))));
            df.Columns.Add(new DoubleDataFrameColumn("lexical_errors_per_100", rows.Select(r => r.Per100(r.J.LexicalErrors))));
            df.Columns.Add(new DoubleDataFrameColumn("grammatical_errors_per_100", rows.Select(r => r.Per100(r.J.GrammaticalErrors))));
        }
        df.Columns.Add(new StringDataFrameColumn("status", rows.Select(r => string.Join(",", r.J.Verdicts.Select(v => $"{v.Dimension}:{v.Status}")))));
        df.Columns.Add(new StringDataFrameColumn("error", rows.Select(r => r.J.Errors)));
        return df;
    }

    /// <summary>Systems in first-seen order.</summary>
    public IReadOnlyList<string> Systems => Documents.Select(d => d.Item.System).Distinct().ToArray();

    /// <summary>Mean of a metric for one system with its bootstrap interval (documents with a value only).</summary>
    public MeanInterval SystemMean(string system, string metric)
    {
        var values = _rows.Value.Where(r => r.J.Item.System == system).Select(r => r.Get(metric)).Where(v => v is not null).Select(v => v!.Value).ToArray();
        return Bootstrap.MeanCI(values, _options.BootstrapSamples, _options.Confidence, _options.BootstrapSeed);
    }

    /// <summary>
    /// One row per system: mean, CI bounds and n for each judge metric and for per-document BLEU (= AvgBLEU),
    /// plus d-BLEU and corpus chrF over the system's documents, document count and failed documents.
    /// </summary>
    public DataFrame PerSystem()
    {
        var systems = Systems;
        var df = new DataFrame(new StringDataFrameColumn("system", systems));
        df.Columns.Add(new Int32DataFrameColumn("n_documents", systems.Select(s => (int?)Documents.Count(d => d.Item.System == s))));
        df.Columns.Add(new Int32DataFrameColumn("n_failed", systems.Select(s => (int?)Documents.Count(d => d.Item.System == s && d.HasFailures))));
        foreach (var m in JudgeMetrics.Append("bleu"))
        {
            var stats = systems.Select(s => SystemMean(s, m)).ToArray();
            var name = m == "bleu" ? "avg_bleu" : m;
            df.Columns.Add(new DoubleDataFrameColumn(name, stats.Select(x => Nullable(x.Mean))));
            df.Columns.Add(new DoubleDataFrameColumn(name + "_lo", stats.Select(x => Nullable(x.Lower))));
            df.Columns.Add(new DoubleDataFrameColumn(name + "_hi", stats.Select(x => Nullable(x.Upper))));
            df.Columns.Add(new Int32DataFrameColumn(name + "_n", stats.Select(x => (int?)x.N)));
        }
        df.Columns.Add(new DoubleDataFrameColumn("d_bleu", systems.Select(s => CorpusMetric(s, bleu: true))));
        df.Columns.Add(new DoubleDataFrameColumn("chrf", systems.Select(s => CorpusMetric(s, bleu: false))));
        return df;
    }

    private static double? Nullable(double x) => double.IsNaN(x) ? null : x;

    private double? CorpusMetric(string system, bool bleu)
    {
        var docs = Documents.Where(d => d.Item.System == system && !string.IsNullOrEmpty(d.Item.Reference)).Select(d => d.Item).ToArray();
        if (docs.Length == 0) return null;
        var refs = new IReadOnlyList<string?>[] { docs.Select(d => d.Reference).ToArray() };
        var hyps = docs.Select(d => d.Hypothesis).ToArray();
        return bleu
            ? new Bleu(new BleuOptions { TargetLanguage = docs[0].TargetLanguage }).CorpusScore(hyps, refs).Score
            : new ChrF().CorpusScore(hyps, refs).Score;
    }

    /// <summary>
    /// System-level agreement between each judge metric and an automatic metric (<c>avg_bleu</c>, <c>d_bleu</c> or
    /// <c>chrf</c>): Kendall τ-b and Pearson over the systems' means. <c>agreement_tau</c> flips the sign for error
    /// counts (lower is better), so positive always means the judge and the metric rank systems alike.
    /// </summary>
    public DataFrame SystemAgreement(string automaticMetric = "avg_bleu")
    {
        var sys = PerSystem();
        if (!sys.Columns.Any(c => c.Name == automaticMetric))
            throw new ArgumentException($"Unknown automatic metric '{automaticMetric}'; expected avg_bleu, d_bleu or chrf.", nameof(automaticMetric));
        var auto = sys.Columns[automaticMetric];
        var names = new List<string>(); var taus = new List<double?>(); var rs = new List<double?>(); var agree = new List<double?>(); var ns = new List<int?>();
        foreach (var m in JudgeMetrics)
        {
            var judge = sys.Columns[m];
            var x = new List<double>(); var y = new List<double>();
            for (long i = 0; i < sys.Rows.Count; i++)
                if (auto[i] is double a && judge[i] is double j) { x.Add(a); y.Add(j); }
            double tau = Correlation.KendallTau(x, y), r = Correlation.Pearson(x, y);
            names.Add(m); taus.Add(Nullable(tau)); rs.Add(Nullable(r)); ns.Add(x.Count);
            agree.Add(Nullable(m == "fluency" ? tau : -tau));
        }
        return new DataFrame(new StringDataFrameColumn("judge_metric", names), new StringDataFrameColumn("automatic_metric", names.Select(_ => automaticMetric)),
            new Int32DataFrameColumn("n_systems", ns), new DoubleDataFrameColumn("kendall_tau", taus), new DoubleDataFrameColumn("pearson", rs),
            new DoubleDataFrameColumn("agreement_tau", agree));
    }

    /// <summary>
    /// Document-level correlation matrix (as the paper's PCC heat map) between bleu, chrf and the judge metrics,
    /// pairwise-complete, optionally for one system. <paramref name="method"/>: pearson, spearman or kendall.
    /// </summary>
    public DataFrame DocumentCorrelations(string method = "pearson", string? system = null)
    {
        Func<IReadOnlyList<double>, IReadOnlyList<double>, double> f = method switch
        {
            "pearson" => Correlation.Pearson,
            "spearman" => Correlation.Spearman,
            "kendall" => Correlation.KendallTau,
            _ => throw new ArgumentException($"Unknown correlation '{method}'; expected pearson, spearman or kendall.", nameof(method)),
        };
        var rows = _rows.Value.Where(r => system is null || r.J.Item.System == system).ToArray();
        var metrics = new[] { "bleu", "chrf" }.Concat(JudgeMetrics).ToArray();
        var df = new DataFrame(new StringDataFrameColumn("metric", metrics));
        foreach (var b in metrics)
        {
            df.Columns.Add(new DoubleDataFrameColumn(b, metrics.Select(a =>
            {
                var pairs = rows.Select(r => (r.Get(a), r.Get(b))).Where(p => p.Item1 is not null && p.Item2 is not null).ToArray();
                return Nullable(f(pairs.Select(p => p.Item1!.Value).ToArray(), pairs.Select(p => p.Item2!.Value).ToArray()));
            })));
        }
        return df;
    }
}

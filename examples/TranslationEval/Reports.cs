using Microsoft.Data.Analysis;
using MLNetExtensions.Evaluators.Translation.Judge;
using MLNetExtensions.Evaluators.Translation.Metrics;

/// <summary>Console tables and the scatter plot of the example.</summary>
internal static class Reports
{
    public static void PrintMetrics(BundledSet data, IReadOnlyDictionary<string, IReadOnlyList<string>> systems)
    {
        var refs = data.Documents.Select(d => d.ReferenceText(data.TargetLanguage)).ToArray();
        var refStreams = new IReadOnlyList<string?>[] { refs };
        Console.WriteLine($"{"system",-8}{"d-BLEU",9}{"AvgBLEU",9}{"chrF2",9}{"chrF2++",9}  outliers");
        string? bleuSig = null, chrfSig = null;
        foreach (var (name, hyps) in systems)
        {
            var doc = DocumentBleu.Compute(hyps, refs, data.TargetLanguage);
            var chrf = new ChrF().CorpusScore(hyps, refStreams);
            var chrfpp = new ChrF(ChrFOptions.ChrFPlusPlus).CorpusScore(hyps, refStreams);
            bleuSig = doc.Signature; chrfSig = chrfpp.Signature;
            Console.WriteLine($"{name,-8}{PyFormat.Fixed(doc.DBleu.Score, 2),9}{PyFormat.Fixed(doc.AvgBleu, 2),9}{PyFormat.Fixed(chrf.Score, 2),9}{PyFormat.Fixed(chrfpp.Score, 2),9}  " +
                              (doc.Outliers.Count == 0 ? "-" : string.Join(",", doc.Outliers.Select(i => data.Documents[i].Id))));
        }
        Console.WriteLine($"BLEU signature: {bleuSig}\nchrF++ signature: {chrfSig}");
    }

    private static string Cell(DataFrame df, string col, long row, string fmt = "0.00")
    {
        var v = df.Columns[col][row];
        return v is null ? "n/a" : Convert.ToDouble(v).ToString(fmt);
    }

    public static void PrintJudge(JudgeReport report)
    {
        var s = report.PerSystem();
        Console.WriteLine($"\n{"system",-8}{"AvgBLEU",9}{"d-BLEU",9}{"chrF2",9}  {"Fluency↑ [95% CI]",-22}{"CE↓",7}{"LE↓",7}{"GE↓",7}{"failed",8}");
        for (long i = 0; i < s.Rows.Count; i++)
        {
            Console.WriteLine($"{s.Columns["system"][i],-8}{Cell(s, "avg_bleu", i),9}{Cell(s, "d_bleu", i),9}{Cell(s, "chrf", i),9}  " +
                              $"{$"{Cell(s, "fluency", i)} [{Cell(s, "fluency_lo", i)}, {Cell(s, "fluency_hi", i)}]",-22}" +
                              $"{Cell(s, "content_errors", i),7}{Cell(s, "lexical_errors", i),7}{Cell(s, "grammatical_errors", i),7}{s.Columns["n_failed"][i],8}");
        }
        var agree = report.SystemAgreement("avg_bleu");
        Console.WriteLine("\nJudge vs AvgBLEU across systems (agreement_tau > 0: same ranking):");
        for (long i = 0; i < agree.Rows.Count; i++)
            Console.WriteLine($"  {agree.Columns["judge_metric"][i],-20} tau {Cell(agree, "kendall_tau", i),6}  pearson {Cell(agree, "pearson", i),6}  agreement_tau {Cell(agree, "agreement_tau", i),6}");
        var corr = report.DocumentCorrelations("pearson");
        Console.WriteLine("\nDocument-level Pearson correlation with BLEU:");
        for (long i = 0; i < corr.Rows.Count; i++)
            Console.WriteLine($"  {corr.Columns["metric"][i],-20} {Cell(corr, "bleu", i),6}");
    }

    /// <summary>Judge fluency against per-document BLEU, one series per system.</summary>
    public static void Scatter(JudgeReport report, string path)
    {
        var plt = new ScottPlot.Plot();
        var docs = report.PerDocument();
        double maxX = 10;
        foreach (var system in report.Systems)
        {
            var xs = new List<double>(); var ys = new List<double>();
            for (long i = 0; i < docs.Rows.Count; i++)
                if ((string)docs.Columns["system"][i] == system && docs.Columns["bleu"][i] is double b && docs.Columns["fluency"][i] is double f)
                { xs.Add(b); ys.Add(f); }
            if (xs.Count == 0) continue;
            maxX = Math.Max(maxX, xs.Max());
            var sc = plt.Add.Scatter(xs.ToArray(), ys.ToArray());
            sc.LineWidth = 0;
            sc.MarkerSize = 10;
            sc.LegendText = system;
        }
        plt.Title("LLM judge fluency vs document BLEU");
        plt.XLabel("document BLEU (sacreBLEU-compatible)");
        plt.YLabel("judge fluency (1-5)");
        plt.Axes.SetLimits(0, Math.Min(100, maxX * 1.1 + 1), 0.5, 5.5);
        plt.ShowLegend(ScottPlot.Alignment.UpperLeft);
        plt.SavePng(path, 900, 600);
    }
}

namespace MLNetExtensions.Evaluators.Translation.Metrics;

/// <summary>Document-level BLEU of one system: pooled d-BLEU and the per-document mean AvgBLEU.</summary>
/// <param name="DBleu">d-BLEU: corpus BLEU where each segment is a whole document (statistics pooled).</param>
/// <param name="AvgBleu">AvgBLEU: mean over documents of each document's own corpus BLEU.</param>
/// <param name="PerDocument">BLEU of each document scored alone.</param>
/// <param name="LengthRatios">Hypothesis/reference token-length ratio per document.</param>
/// <param name="Outliers">Indices of documents whose length ratio exceeds the outlier threshold (they can dominate d-BLEU).</param>
public sealed record DocumentBleuResult(
    BleuScore DBleu,
    double AvgBleu,
    IReadOnlyList<double> PerDocument,
    IReadOnlyList<double> LengthRatios,
    IReadOnlyList<int> Outliers)
{
    /// <summary>Signature of the BLEU configuration.</summary>
    public string Signature => DBleu.Signature;
}

/// <summary>
/// d-BLEU and AvgBLEU as in EIT-NLP/BLEUless_DocMT (<c>d_bleu_evaluator.py</c>): sacreBLEU BLEU over whole
/// documents, <c>zh</c> tokenizer for Chinese targets and <c>13a</c> otherwise, exp smoothing, no effective order.
/// </summary>
public static class DocumentBleu
{
    /// <summary>Scores one system's documents against one reference document each.</summary>
    /// <param name="hypothesisDocuments">One string per document (sentences already joined).</param>
    /// <param name="referenceDocuments">The reference document for each hypothesis document.</param>
    /// <param name="targetLanguage">Target language code; "zh…" selects the zh tokenizer when <paramref name="options"/> names none.</param>
    /// <param name="options">BLEU options; default sacreBLEU defaults with the tokenizer chosen by language.</param>
    /// <param name="outlierRatio">Length ratio above which a document is flagged (default 3).</param>
    public static DocumentBleuResult Compute(IReadOnlyList<string> hypothesisDocuments, IReadOnlyList<string> referenceDocuments,
        string? targetLanguage = null, BleuOptions? options = null, double outlierRatio = 3.0)
    {
        ArgumentNullException.ThrowIfNull(hypothesisDocuments);
        ArgumentNullException.ThrowIfNull(referenceDocuments);
        if (hypothesisDocuments.Count != referenceDocuments.Count)
            throw new ArgumentException($"Expected one reference document per hypothesis document; got {hypothesisDocuments.Count} hypotheses and {referenceDocuments.Count} references.");
        if (hypothesisDocuments.Count == 0) throw new ArgumentException("At least one document is required.", nameof(hypothesisDocuments));
        options ??= new BleuOptions();
        if (options.Tokenize is null) options = options with { TargetLanguage = options.TargetLanguage ?? targetLanguage };
        var bleu = new Bleu(options);
        var refs = new IReadOnlyList<string?>[] { referenceDocuments.ToArray() };
        var dbleu = bleu.CorpusScore(hypothesisDocuments, refs);
        var perDoc = bleu.SegmentScores(hypothesisDocuments, refs);
        var ratios = perDoc.Select(s => s.RefLen > 0 ? (double)s.SysLen / s.RefLen : (s.SysLen > 0 ? double.PositiveInfinity : 1.0)).ToArray();
        var outliers = Enumerable.Range(0, ratios.Length).Where(i => ratios[i] > outlierRatio).ToArray();
        var scores = perDoc.Select(s => s.Score).ToArray();
        return new DocumentBleuResult(dbleu, scores.Average(), scores, ratios, outliers);
    }

    /// <summary>AvgBLEU only: the arithmetic mean of single-document corpus BLEU.</summary>
    public static double AvgBleu(IReadOnlyList<string> hypothesisDocuments, IReadOnlyList<string> referenceDocuments, BleuOptions? options = null) =>
        Compute(hypothesisDocuments, referenceDocuments, null, options).AvgBleu;
}

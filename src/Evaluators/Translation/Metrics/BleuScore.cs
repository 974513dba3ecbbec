namespace MLNetExtensions.Evaluators.Translation.Metrics;

/// <summary>A BLEU result with its sufficient statistics, as sacreBLEU's <c>BLEUScore</c>.</summary>
/// <param name="Score">BLEU on the 0–100 scale.</param>
/// <param name="Counts">Matched n-grams per order (with add-k, including the added k for n ≥ 2, as sacreBLEU reports).</param>
/// <param name="Totals">Hypothesis n-grams per order (same add-k note).</param>
/// <param name="Precisions">Smoothed precisions per order, 0–100.</param>
/// <param name="BrevityPenalty">Brevity penalty.</param>
/// <param name="SysLen">Hypothesis length in tokens.</param>
/// <param name="RefLen">Effective (closest) reference length in tokens.</param>
/// <param name="Signature">sacreBLEU-style reproducibility signature.</param>
public sealed record BleuScore(
    double Score,
    IReadOnlyList<double> Counts,
    IReadOnlyList<double> Totals,
    IReadOnlyList<double> Precisions,
    double BrevityPenalty,
    long SysLen,
    long RefLen,
    string Signature)
{
    /// <summary>Hypothesis / reference length ratio (0 when the reference length is 0).</summary>
    public double Ratio => RefLen != 0 ? (double)SysLen / RefLen : 0;

    /// <summary>Precisions with one decimal joined by '/', e.g. <c>82.4/50.0/45.5/37.5</c>.</summary>
    public string PrecisionsString => string.Join('/', Precisions.Select(p => PyFormat.Fixed(p, 1)));

    /// <summary>sacreBLEU's text line: <c>BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)</c>.</summary>
    public string Format(int width = 2, bool withSignature = false) =>
        $"{(withSignature ? "BLEU|" + Signature : "BLEU")} = {PyFormat.Fixed(Score, width)} {PrecisionsString} " +
        $"(BP = {PyFormat.Fixed(BrevityPenalty, 3)} ratio = {PyFormat.Fixed(Ratio, 3)} hyp_len = {SysLen} ref_len = {RefLen})";

    /// <inheritdoc/>
    public override string ToString() => Format();
}

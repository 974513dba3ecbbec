using MLNetExtensions.Evaluators.Translation.Metrics.Tokenizers;

namespace MLNetExtensions.Evaluators.Translation.Metrics;

/// <summary>
/// Corpus and sentence BLEU, numerically identical to sacreBLEU 2.6.0 <c>BLEU</c>
/// (tokenizers 13a/intl/zh/char/none, smoothing exp/floor/add-k/none, lowercase, effective order, multiple references).
/// </summary>
public sealed class Bleu
{
    private readonly BleuTokenizer _tokenizer;

    /// <summary>Creates a BLEU scorer; null options mean sacreBLEU's defaults (13a, exp, no effective order).</summary>
    public Bleu(BleuOptions? options = null)
    {
        Options = options ?? new BleuOptions();
        if (Options.MaxNgramOrder < 1) throw new ArgumentOutOfRangeException(nameof(options), Options.MaxNgramOrder, "MaxNgramOrder must be at least 1.");
        _tokenizer = BleuTokenizer.Create(Options.ResolvedTokenizer);
    }

    /// <summary>The options in use.</summary>
    public BleuOptions Options { get; }

    /// <summary>Reference count of the last scoring call (-1 when it varied by segment, shown as <c>nrefs:var</c>).</summary>
    public int NumRefs { get; private set; } = 1;

    /// <summary>Lower-cases (optionally), right-strips and tokenizes one segment, as sacreBLEU does before counting.</summary>
    public string Preprocess(string segment)
    {
        if (Options.Lowercase) segment = PyText.Lower(segment);
        return _tokenizer.Tokenize(PyText.RStrip(segment));
    }

    /// <summary>The signature for the current options and the last reference count.</summary>
    public string GetSignature(bool shortForm = false) => Signature(NumRefs, shortForm);

    private string Signature(int numRefs, bool shortForm = false)
    {
        var smooth = BleuOptions.SmoothName(Options.Smoothing);
        var def = BleuOptions.SmoothDefault(Options.Smoothing);
        if (def is not null) smooth += $"[{PyFormat.Fixed(Options.SmoothValue ?? def.Value, 2)}]";
        return SacreBleuSignature.Format(new[]
        {
            ("nrefs", SacreBleuSignature.NRefs(numRefs)),
            ("case", Options.Lowercase ? "lc" : "mixed"),
            ("eff", Options.EffectiveOrder ? "yes" : "no"),
            ("tok", _tokenizer.Signature),
            ("smooth", smooth),
        }, shortForm);
    }

    /// <summary>
    /// Corpus BLEU. <paramref name="referenceStreams"/>[r][i] is reference r of segment i (sacreBLEU layout);
    /// a null reference is dropped for that segment, an empty string is a real zero-length reference.
    /// </summary>
    public BleuScore CorpusScore(IReadOnlyList<string> hypotheses, IReadOnlyList<IReadOnlyList<string?>> referenceStreams)
    {
        var stats = SegmentStatistics(hypotheses, referenceStreams, out var numRefs);
        NumRefs = numRefs;
        var sum = new long[2 + 2 * Options.MaxNgramOrder];
        foreach (var s in stats)
            for (int k = 0; k < sum.Length; k++) sum[k] += s[k];
        return FromStatistics(sum, numRefs);
    }

    /// <summary>Sentence BLEU of one hypothesis against its references (= corpus BLEU of a one-segment corpus).</summary>
    public BleuScore SentenceScore(string hypothesis, IReadOnlyList<string?> references)
    {
        ArgumentNullException.ThrowIfNull(references);
        return CorpusScore(new[] { hypothesis }, references.Select(r => (IReadOnlyList<string?>)new[] { r }).ToArray());
    }

    /// <summary>Per-segment scores, each segment scored alone (with these options).</summary>
    public IReadOnlyList<BleuScore> SegmentScores(IReadOnlyList<string> hypotheses, IReadOnlyList<IReadOnlyList<string?>> referenceStreams)
    {
        var stats = SegmentStatistics(hypotheses, referenceStreams, out _);
        return stats.Select((s, i) => FromStatistics(s, CountRefs(referenceStreams, i))).ToArray();
    }

    private static int CountRefs(IReadOnlyList<IReadOnlyList<string?>> streams, int i) => streams.Count(s => s[i] is not null);

    private BleuScore FromStatistics(long[] s, int numRefs)
    {
        int n = Options.MaxNgramOrder;
        var correct = new double[n];
        var total = new double[n];
        for (int k = 0; k < n; k++) { correct[k] = s[2 + k]; total[k] = s[2 + n + k]; }
        return ComputeBleu(correct, total, s[0], s[1], Options.Smoothing, Options.SmoothValue, Options.EffectiveOrder, n, Signature(numRefs));
    }

    /// <summary>
    /// Sufficient statistics per segment: <c>[hyp_len, ref_len, correct_1..N, total_1..N]</c>, as sacreBLEU.
    /// </summary>
    public IReadOnlyList<long[]> SegmentStatistics(IReadOnlyList<string> hypotheses, IReadOnlyList<IReadOnlyList<string?>> referenceStreams, out int numRefs)
    {
        ArgumentNullException.ThrowIfNull(hypotheses);
        ArgumentNullException.ThrowIfNull(referenceStreams);
        if (referenceStreams.Count == 0) throw new ArgumentException("At least one reference stream is required.", nameof(referenceStreams));
        for (int i = 0; i < hypotheses.Count; i++)
            if (hypotheses[i] is null) throw new ArgumentException($"Hypothesis {i} is null; every segment needs a (possibly empty) string.", nameof(hypotheses));
        // Python zip semantics: the shortest of hypotheses and reference streams decides.
        int segments = Math.Min(hypotheses.Count, referenceStreams.Min(s => s.Count));
        int order = Options.MaxNgramOrder;
        var counts = new HashSet<int>();
        var result = new List<long[]>(segments);
        for (int i = 0; i < segments; i++)
        {
            Dictionary<string, int>? refNgrams = null;
            var refLens = new List<int>();
            foreach (var stream in referenceStreams)
            {
                var r = stream[i];
                if (r is null) continue;
                var tokens = PyText.Split(Preprocess(r));
                refLens.Add(tokens.Count);
                var ng = Ngrams.Words(tokens, order);
                if (refNgrams is null) refNgrams = ng;
                else foreach (var (g, c) in ng)
                        refNgrams[g] = Math.Max(refNgrams.GetValueOrDefault(g), c);
            }
            counts.Add(refLens.Count);
            if (refNgrams is null)
                throw new ArgumentException($"Segment {i} has no reference (all reference streams are null there).", nameof(referenceStreams));

            var words = PyText.Split(Preprocess(hypotheses[i]));
            var stats = new long[2 + 2 * order];
            stats[0] = words.Count;
            stats[1] = ClosestRefLength(words.Count, refLens);
            foreach (var (g, c) in Ngrams.Words(words, order))
            {
                int n = Ngrams.Order(g) - 1;
                stats[2 + order + n] += c;
                if (refNgrams.TryGetValue(g, out var rc)) stats[2 + n] += Math.Min(c, rc);
            }
            result.Add(stats);
        }
        numRefs = counts.Count == 1 ? counts.First() : -1;
        if (counts.Count == 0) numRefs = referenceStreams.Count;
        return result;
    }

    // Closest reference length; ties go to the shorter reference.
    private static int ClosestRefLength(int hypLen, List<int> refLens)
    {
        int bestDiff = -1, best = -1;
        foreach (var r in refLens)
        {
            int diff = Math.Abs(hypLen - r);
            if (bestDiff == -1 || diff < bestDiff) { bestDiff = diff; best = r; }
            else if (diff == bestDiff && r < best) best = r;
        }
        return best;
    }

    /// <summary>
    /// sacreBLEU's <c>BLEU.compute_bleu</c>: BLEU from sufficient statistics with smoothing. The arrays are not
    /// modified; the returned counts/totals include add-k's additions as sacreBLEU reports them.
    /// </summary>
    public static BleuScore ComputeBleu(IReadOnlyList<double> correct, IReadOnlyList<double> total, long sysLen, long refLen,
        BleuSmoothing smoothing = BleuSmoothing.None, double? smoothValue = null, bool effectiveOrder = false, int maxNgramOrder = 4,
        string signature = "")
    {
        if (correct.Count < maxNgramOrder || total.Count < maxNgramOrder)
            throw new ArgumentException($"correct and total need {maxNgramOrder} entries (one per n-gram order); got {correct.Count} and {total.Count}.");
        var c = correct.Take(maxNgramOrder).ToArray();
        var t = total.Take(maxNgramOrder).ToArray();
        double k = smoothValue ?? BleuOptions.SmoothDefault(smoothing) ?? 0;

        double bp = 1.0;
        if (sysLen < refLen) bp = sysLen > 0 ? Math.Exp(1 - (double)refLen / sysLen) : 0.0;

        var precisions = new double[maxNgramOrder];
        // Early stop when nothing matches, even with smoothing (sacreBLEU #141).
        if (c.All(x => x == 0)) return new BleuScore(0.0, c, t, precisions, bp, sysLen, refLen, signature);

        double smoothMteval = 1.0;
        int effOrder = maxNgramOrder;
        for (int n = 1; n <= maxNgramOrder; n++)
        {
            if (smoothing == BleuSmoothing.AddK && n > 1) { c[n - 1] += k; t[n - 1] += k; }
            if (t[n - 1] == 0) break;
            if (effectiveOrder) effOrder = n;
            if (c[n - 1] == 0)
            {
                if (smoothing == BleuSmoothing.Exp)
                {
                    smoothMteval *= 2;
                    precisions[n - 1] = 100.0 / (smoothMteval * t[n - 1]);
                }
                else if (smoothing == BleuSmoothing.Floor) precisions[n - 1] = 100.0 * k / t[n - 1];
            }
            else precisions[n - 1] = 100.0 * c[n - 1] / t[n - 1];
        }
        double sumLog = 0;
        for (int n = 0; n < effOrder; n++) sumLog += precisions[n] == 0.0 ? -9999999999 : Math.Log(precisions[n]);
        double score = bp * Math.Exp(sumLog / effOrder);
        return new BleuScore(score, c, t, precisions, bp, sysLen, refLen, signature);
    }
}

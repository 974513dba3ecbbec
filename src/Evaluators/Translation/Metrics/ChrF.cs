namespace MLNetExtensions.Evaluators.Translation.Metrics;

/// <summary>Options of <see cref="ChrF"/>; defaults are sacreBLEU's <c>CHRF()</c> (chrF2). WordOrder 2 gives chrF++.</summary>
public sealed record ChrFOptions
{
    /// <summary>Character n-gram order (default 6).</summary>
    public int CharOrder { get; init; } = 6;
    /// <summary>Word n-gram order: 0 chrF, 1 chrF+, 2 chrF++.</summary>
    public int WordOrder { get; init; }
    /// <summary>Recall weight β (default 2).</summary>
    public int Beta { get; init; } = 2;
    /// <summary>Lower-case first (Python full case mapping).</summary>
    public bool Lowercase { get; init; }
    /// <summary>Keep whitespace inside character n-grams.</summary>
    public bool Whitespace { get; init; }
    /// <summary>chrF++.py/NLTK/Moses ε-smoothing; false (default) averages only orders present on both sides (<c>eff:yes</c>).</summary>
    public bool EpsSmoothing { get; init; }

    /// <summary>chrF++ with sacreBLEU defaults (word order 2).</summary>
    public static ChrFOptions ChrFPlusPlus { get; } = new() { WordOrder = 2 };
}

/// <summary>A chrF result.</summary>
/// <param name="Score">chrF on the 0–100 scale.</param>
/// <param name="Name">Metric name, e.g. <c>chrF2</c> or <c>chrF2++</c>.</param>
/// <param name="Statistics">Summed <c>[hyp, ref, match]</c> triples, character orders then word orders.</param>
/// <param name="Signature">sacreBLEU-style signature.</param>
public sealed record ChrFScore(double Score, string Name, IReadOnlyList<long> Statistics, string Signature)
{
    /// <summary><c>chrF2 = 59.73</c>.</summary>
    public string Format(int width = 2, bool withSignature = false) =>
        $"{(withSignature ? Name + "|" + Signature : Name)} = {PyFormat.Fixed(Score, width)}";

    /// <inheritdoc/>
    public override string ToString() => Format();
}

/// <summary>chrF / chrF+ / chrF++ (Popović 2015, 2017), numerically identical to sacreBLEU 2.6.0 <c>CHRF</c>.</summary>
public sealed class ChrF
{
    private const string Puncts = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"; // Python string.punctuation

    /// <summary>Creates a chrF scorer; null options mean chrF2 with sacreBLEU defaults.</summary>
    public ChrF(ChrFOptions? options = null)
    {
        Options = options ?? new ChrFOptions();
        if (Options.CharOrder < 0 || Options.WordOrder < 0 || Options.CharOrder + Options.WordOrder == 0)
            throw new ArgumentOutOfRangeException(nameof(options), "CharOrder and WordOrder must be non-negative and not both 0.");
    }

    /// <summary>The options in use.</summary>
    public ChrFOptions Options { get; }

    /// <summary><c>chrF{β}</c> followed by one '+' per word order.</summary>
    public string Name => $"chrF{Options.Beta}" + new string('+', Options.WordOrder);

    /// <summary>Reference count of the last scoring call (-1 = variable).</summary>
    public int NumRefs { get; private set; } = 1;

    /// <summary>Signature for the current options and last reference count.</summary>
    public string GetSignature(bool shortForm = false) => Signature(NumRefs, shortForm);

    private string Signature(int numRefs, bool shortForm = false) => SacreBleuSignature.Format(new[]
    {
        ("nrefs", SacreBleuSignature.NRefs(numRefs)),
        ("case", Options.Lowercase ? "lc" : "mixed"),
        ("eff", Options.EpsSmoothing ? "no" : "yes"),
        ("nc", Options.CharOrder.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ("nw", Options.WordOrder.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ("space", Options.Whitespace ? "yes" : "no"),
    }, shortForm);

    /// <summary>Corpus chrF; <paramref name="referenceStreams"/>[r][i] is reference r of segment i (null = absent).</summary>
    public ChrFScore CorpusScore(IReadOnlyList<string> hypotheses, IReadOnlyList<IReadOnlyList<string?>> referenceStreams)
    {
        var stats = SegmentStatistics(hypotheses, referenceStreams, out var numRefs);
        NumRefs = numRefs;
        var sum = new long[3 * (Options.CharOrder + Options.WordOrder)];
        foreach (var s in stats)
            for (int k = 0; k < sum.Length; k++) sum[k] += s[k];
        return new ChrFScore(ComputeF(sum), Name, sum, Signature(numRefs));
    }

    /// <summary>Sentence chrF of one hypothesis against its references.</summary>
    public ChrFScore SentenceScore(string hypothesis, IReadOnlyList<string?> references) =>
        CorpusScore(new[] { hypothesis }, references.Select(r => (IReadOnlyList<string?>)new[] { r }).ToArray());

    /// <summary>Per-segment <c>[hyp, ref, match]</c> triples using, for each segment, the best-F reference.</summary>
    public IReadOnlyList<long[]> SegmentStatistics(IReadOnlyList<string> hypotheses, IReadOnlyList<IReadOnlyList<string?>> referenceStreams, out int numRefs)
    {
        ArgumentNullException.ThrowIfNull(hypotheses);
        ArgumentNullException.ThrowIfNull(referenceStreams);
        if (referenceStreams.Count == 0) throw new ArgumentException("At least one reference stream is required.", nameof(referenceStreams));
        int segments = Math.Min(hypotheses.Count, referenceStreams.Min(s => s.Count));
        var counts = new HashSet<int>();
        var result = new List<long[]>(segments);
        for (int i = 0; i < segments; i++)
        {
            if (hypotheses[i] is null) throw new ArgumentException($"Hypothesis {i} is null.", nameof(hypotheses));
            var refs = referenceStreams.Select(s => s[i]).Where(r => r is not null).Select(r => Preprocess(r!)).ToList();
            counts.Add(refs.Count);
            var hyp = Extract(Preprocess(hypotheses[i]));
            long[] best = Array.Empty<long>();
            double bestF = -1.0;
            foreach (var r in refs)
            {
                var refNgrams = Extract(r);
                var stats = new long[3 * hyp.Count];
                for (int o = 0; o < hyp.Count; o++)
                {
                    long hypCount = 0, match = 0, refCount = 0;
                    foreach (var (g, c) in hyp[o])
                    {
                        hypCount += c;
                        if (refNgrams[o].TryGetValue(g, out var rc)) match += Math.Min(c, rc);
                    }
                    foreach (var c in refNgrams[o].Values) refCount += c;
                    // No hypothesis total when the reference has no n-gram of this order.
                    stats[3 * o] = refNgrams[o].Count > 0 ? hypCount : 0;
                    stats[3 * o + 1] = refCount;
                    stats[3 * o + 2] = match;
                }
                double f = ComputeF(stats);
                if (f > bestF) { bestF = f; best = stats; } // strictly greater: the first reference wins ties
            }
            if (refs.Count == 0) throw new ArgumentException($"Segment {i} has no reference (all reference streams are null there).", nameof(referenceStreams));
            result.Add(best);
        }
        numRefs = counts.Count == 1 ? counts.First() : counts.Count == 0 ? referenceStreams.Count : -1;
        return result;
    }

    private string Preprocess(string s) => Options.Lowercase ? PyText.Lower(s) : s;

    private List<Dictionary<string, int>> Extract(string line)
    {
        var list = new List<Dictionary<string, int>>(Options.CharOrder + Options.WordOrder);
        var chars = Options.Whitespace ? line : PyText.RemoveWhiteSpace(line);
        var bounds = Ngrams.CodePointBoundaries(chars);
        for (int n = 1; n <= Options.CharOrder; n++) list.Add(Ngrams.Chars(chars, bounds, n));
        if (Options.WordOrder > 0)
        {
            var words = SplitPunctuation(line);
            for (int n = 1; n <= Options.WordOrder; n++) list.Add(Ngrams.Words(words, n, n));
        }
        return list;
    }

    // chrF++ word tokenization: one split per word, trailing ASCII punctuation first, else leading ("(hi)" → "(hi", ")").
    internal static List<string> SplitPunctuation(string sentence)
    {
        var tokens = new List<string>();
        foreach (var w in PyText.Split(sentence))
        {
            if (PyText.Length(w) == 1) tokens.Add(w);
            else if (Puncts.Contains(w[^1])) { tokens.Add(w[..^1]); tokens.Add(w[^1..]); }
            else if (Puncts.Contains(w[0])) { tokens.Add(w[..1]); tokens.Add(w[1..]); }
            else tokens.Add(w);
        }
        return tokens;
    }

    /// <summary>chrF from summed <c>[hyp, ref, match]</c> triples (sacreBLEU <c>_compute_f_score</c>).</summary>
    public double ComputeF(IReadOnlyList<long> statistics)
    {
        const double eps = 1e-16;
        int order = Options.CharOrder + Options.WordOrder;
        double factor = Options.Beta * Options.Beta;
        double score = 0, avgPrec = 0, avgRec = 0;
        int effective = 0;
        for (int i = 0; i < order; i++)
        {
            long nHyp = statistics[3 * i], nRef = statistics[3 * i + 1], nMatch = statistics[3 * i + 2];
            double prec = nHyp > 0 ? (double)nMatch / nHyp : eps;
            double rec = nRef > 0 ? (double)nMatch / nRef : eps;
            double denom = factor * prec + rec;
            score += denom > 0 ? (1 + factor) * prec * rec / denom : eps;
            if (nHyp > 0 && nRef > 0) { avgPrec += prec; avgRec += rec; effective++; }
        }
        if (Options.EpsSmoothing) return 100 * score / order;
        if (effective == 0) avgPrec = avgRec = 0;
        else { avgPrec /= effective; avgRec /= effective; }
        if (avgPrec + avgRec != 0)
        {
            score = (1 + factor) * avgPrec * avgRec;
            score /= factor * avgPrec + avgRec;
            return 100 * score;
        }
        return 0.0;
    }
}

using System.Text.Json;
using MLNetExtensions.Evaluators.Translation.Metrics;
using MLNetExtensions.Evaluators.Translation.Metrics.Tokenizers;
using MLNetExtensions.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace MLNetExtensions.Tests.Translation;

/// <summary>Runs every case of ../shared/parity/sacrebleu/cases.json (sacreBLEU 2.6.0 outputs) against the C# metrics.</summary>
public sealed class SacreBleuParityTests(ITestOutputHelper output)
{
    [ParityFact]
    public void AllSacreBleuCasesPass()
    {
        using var doc = SharedData.Fixture("sacrebleu", "cases.json");
        var failures = new List<string>();
        int total = 0;
        var byMetric = new Dictionary<string, int>();
        foreach (var c in doc.RootElement.EnumerateArray())
        {
            total++;
            var id = c.GetProperty("id").GetString()!;
            var metric = c.GetProperty("metric").GetString()!;
            var errors = new List<string>();
            try
            {
                switch (metric)
                {
                    case "bleu": CheckBleu(c, errors); break;
                    case "bleu_from_stats": CheckBleuFromStats(c, errors); break;
                    case "chrf": CheckChrF(c, errors); break;
                    case "avg_bleu": CheckAvgBleu(c, errors); break;
                    case "tokenize": CheckTokenize(c, errors); break;
                    default: errors.Add($"unknown metric {metric}"); break;
                }
            }
            catch (Exception e) { errors.Add(e.GetType().Name + ": " + e.Message); }
            if (errors.Count > 0) failures.Add($"{id} ({metric}, {c.GetProperty("test").GetString()}): {string.Join("; ", errors)}");
            else byMetric[metric] = byMetric.GetValueOrDefault(metric) + 1;
        }
        output.WriteLine($"sacreBLEU parity: {total - failures.Count}/{total} cases pass ({string.Join(", ", byMetric.Select(kv => $"{kv.Key} {kv.Value}"))})");
        Assert.Equal(155, total);
        Assert.True(failures.Count == 0, $"{failures.Count}/{total} cases failed:\n" + string.Join("\n", failures));
    }

    private static string[] Strings(JsonElement e) => e.EnumerateArray().Select(x => x.GetString()!).ToArray();

    private static IReadOnlyList<IReadOnlyList<string?>> Refs(JsonElement c) =>
        c.GetProperty("refs").EnumerateArray()
            .Select(s => (IReadOnlyList<string?>)s.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Null ? null : x.GetString()).ToArray())
            .ToArray();

    private static BleuOptions BleuOpts(JsonElement o)
    {
        var tok = o.GetProperty("tokenize");
        var sv = o.GetProperty("smooth_value");
        return new BleuOptions
        {
            Tokenize = tok.ValueKind == JsonValueKind.Null ? null : tok.GetString(),
            Smoothing = BleuOptions.ParseSmoothing(o.GetProperty("smooth_method").GetString()!),
            SmoothValue = sv.ValueKind == JsonValueKind.Null ? null : sv.GetDouble(),
            Lowercase = o.GetProperty("lowercase").GetBoolean(),
            EffectiveOrder = o.GetProperty("effective_order").GetBoolean(),
            MaxNgramOrder = o.GetProperty("max_ngram_order").GetInt32(),
        };
    }

    private static string WithoutVersion(string sig) => string.Join('|', sig.Split('|').Where(p => !p.StartsWith("version:")));

    /// <summary>Checks a score against the case's expectation, in the form the case asks for.</summary>
    private static void CheckScore(JsonElement exp, double score, List<string> errors)
    {
        var compare = exp.TryGetProperty("compare", out var cmp) ? cmp.GetString() : null;
        bool hasScore = exp.TryGetProperty("score", out var es) && es.ValueKind != JsonValueKind.Null;
        if (exp.TryGetProperty("tolerance_abs", out var tol) && hasScore && Math.Abs(score - es.GetDouble()) > tol.GetDouble())
            errors.Add($"score {score:R} vs {es.GetDouble():R} (tol {tol.GetDouble()})");
        if (exp.TryGetProperty("asserted_value", out var av))
        {
            double scaled = exp.GetProperty("asserted_scale").GetString() == "score/100" ? score / 100 : score;
            if (exp.TryGetProperty("tolerance_abs_on_asserted", out var t2))
            {
                if (Math.Abs(scaled - av.GetDouble()) > t2.GetDouble()) errors.Add($"asserted {scaled:R} vs {av.GetDouble():R} (tol {t2.GetDouble()})");
            }
            else if (compare == "exact" && scaled != av.GetDouble()) errors.Add($"asserted exact {scaled:R} vs {av.GetDouble():R}");
        }
        else if (compare == "exact" && hasScore && score != es.GetDouble()) errors.Add($"exact score {score:R} vs {es.GetDouble():R}");
        if (compare == "format(score, .2f) == expected_str" && PyFormat.Fixed(score, 2) != exp.GetProperty("expected_str").GetString())
            errors.Add($"formatted {PyFormat.Fixed(score, 2)} vs {exp.GetProperty("expected_str").GetString()}");
        if (compare == "format(score, .2f)" && PyFormat.Fixed(score, 2) != PyFormat.Fixed(es.GetDouble(), 2))
            errors.Add($"formatted {PyFormat.Fixed(score, 2)} vs {PyFormat.Fixed(es.GetDouble(), 2)}");
    }

    private static void CheckBleu(JsonElement c, List<string> errors)
    {
        var bleu = new Bleu(BleuOpts(c.GetProperty("options")));
        var hyps = Strings(c.GetProperty("hyps"));
        var refs = Refs(c);
        // Sentence-level cases go through the sentence API (it must equal the one-segment corpus score).
        var s = c.GetProperty("level").GetString() == "sentence" && hyps.Length == 1
            ? bleu.SentenceScore(hyps[0], refs.Select(r => r[0]).ToArray())
            : bleu.CorpusScore(hyps, refs);
        var exp = c.GetProperty("expected");
        CheckScore(exp, s.Score, errors);
        if (exp.TryGetProperty("counts", out var counts) && !counts.EnumerateArray().Select(x => x.GetDouble()).SequenceEqual(s.Counts))
            errors.Add($"counts [{string.Join(",", s.Counts)}]");
        if (exp.TryGetProperty("totals", out var totals) && !totals.EnumerateArray().Select(x => x.GetDouble()).SequenceEqual(s.Totals))
            errors.Add($"totals [{string.Join(",", s.Totals)}]");
        if (exp.TryGetProperty("precisions_str", out var ps) && ps.GetString() != s.PrecisionsString) errors.Add($"precisions {s.PrecisionsString}");
        if (exp.TryGetProperty("bp", out var bp) && PyFormat.Fixed(s.BrevityPenalty, 3) != PyFormat.Fixed(bp.GetDouble(), 3)) errors.Add($"bp {s.BrevityPenalty}");
        if (exp.TryGetProperty("ratio", out var ratio) && PyFormat.Fixed(s.Ratio, 3) != PyFormat.Fixed(ratio.GetDouble(), 3)) errors.Add($"ratio {s.Ratio}");
        if (exp.TryGetProperty("sys_len", out var sl) && sl.GetInt64() != s.SysLen) errors.Add($"sys_len {s.SysLen}");
        if (exp.TryGetProperty("ref_len", out var rl) && rl.GetInt64() != s.RefLen) errors.Add($"ref_len {s.RefLen}");
        CheckSignature(exp, s.Signature, errors);
        // The full-precision diagnostics of the reference run must also agree (statistics exactly).
        if (c.TryGetProperty("computed_by_sacrebleu_2_6_0", out var d))
        {
            if (!d.GetProperty("counts").EnumerateArray().Select(x => x.GetDouble()).SequenceEqual(s.Counts)) errors.Add($"diag counts [{string.Join(",", s.Counts)}]");
            if (!d.GetProperty("totals").EnumerateArray().Select(x => x.GetDouble()).SequenceEqual(s.Totals)) errors.Add($"diag totals [{string.Join(",", s.Totals)}]");
            if (d.GetProperty("sys_len").GetInt64() != s.SysLen || d.GetProperty("ref_len").GetInt64() != s.RefLen) errors.Add($"diag lengths {s.SysLen}/{s.RefLen}");
            if (Math.Abs(d.GetProperty("score").GetDouble() - s.Score) > 1e-9) errors.Add($"diag score {s.Score:R} vs {d.GetProperty("score").GetDouble():R}");
            if (WithoutVersion(d.GetProperty("signature").GetString()!) != WithoutVersion(s.Signature)) errors.Add($"diag signature {s.Signature}");
        }
    }

    private static void CheckSignature(JsonElement exp, string actual, List<string> errors)
    {
        if (exp.TryGetProperty("signature_without_version", out var sw) && sw.GetString() != WithoutVersion(actual)) errors.Add($"signature {actual}");
        if (exp.TryGetProperty("signature", out var sig) && WithoutVersion(sig.GetString()!) != WithoutVersion(actual)) errors.Add($"signature {actual}");
    }

    private static void CheckBleuFromStats(JsonElement c, List<string> errors)
    {
        var o = BleuOpts(c.GetProperty("options"));
        var st = c.GetProperty("stats");
        var s = Bleu.ComputeBleu(
            st.GetProperty("correct").EnumerateArray().Select(x => x.GetDouble()).ToArray(),
            st.GetProperty("total").EnumerateArray().Select(x => x.GetDouble()).ToArray(),
            st.GetProperty("sys_len").GetInt64(), st.GetProperty("ref_len").GetInt64(),
            o.Smoothing, o.SmoothValue, o.EffectiveOrder, o.MaxNgramOrder);
        CheckScore(c.GetProperty("expected"), s.Score, errors);
        var d = c.GetProperty("computed_by_sacrebleu_2_6_0");
        if (Math.Abs(d.GetProperty("score").GetDouble() - s.Score) > 1e-9) errors.Add($"diag score {s.Score:R}");
        if (!d.GetProperty("precisions").EnumerateArray().Select(x => x.GetDouble()).Zip(s.Precisions).All(p => Math.Abs(p.First - p.Second) < 1e-9))
            errors.Add("diag precisions");
    }

    private static void CheckChrF(JsonElement c, List<string> errors)
    {
        var o = c.GetProperty("options");
        var chrf = new ChrF(new ChrFOptions
        {
            CharOrder = o.GetProperty("char_order").GetInt32(),
            WordOrder = o.GetProperty("word_order").GetInt32(),
            Beta = o.GetProperty("beta").GetInt32(),
            Lowercase = o.GetProperty("lowercase").GetBoolean(),
            Whitespace = o.GetProperty("whitespace").GetBoolean(),
            EpsSmoothing = o.GetProperty("eps_smoothing").GetBoolean(),
        });
        var hyps = Strings(c.GetProperty("hyps"));
        var refs = Refs(c);
        var s = c.GetProperty("level").GetString() == "sentence" && hyps.Length == 1
            ? chrf.SentenceScore(hyps[0], refs.Select(r => r[0]).ToArray())
            : chrf.CorpusScore(hyps, refs);
        var exp = c.GetProperty("expected");
        CheckScore(exp, s.Score, errors);
        CheckSignature(exp, s.Signature, errors);
        if (c.TryGetProperty("computed_by_sacrebleu_2_6_0", out var d))
        {
            if (Math.Abs(d.GetProperty("score").GetDouble() - s.Score) > 1e-9) errors.Add($"diag score {s.Score:R} vs {d.GetProperty("score").GetDouble():R}");
            if (WithoutVersion(d.GetProperty("signature").GetString()!) != WithoutVersion(s.Signature)) errors.Add($"diag signature {s.Signature}");
        }
    }

    private static void CheckAvgBleu(JsonElement c, List<string> errors)
    {
        var r = DocumentBleu.Compute(Strings(c.GetProperty("hyps")), Refs(c)[0].Select(x => x!).ToArray(), options: BleuOpts(c.GetProperty("options")));
        var exp = c.GetProperty("expected");
        CheckScore(exp, r.AvgBleu, errors);
        var perDoc = exp.GetProperty("per_document").EnumerateArray().Select(x => x.GetDouble()).ToArray();
        double tol = exp.GetProperty("tolerance_abs").GetDouble();
        if (perDoc.Length != r.PerDocument.Count || perDoc.Zip(r.PerDocument).Any(p => Math.Abs(p.First - p.Second) > tol))
            errors.Add($"per-document [{string.Join(",", r.PerDocument)}]");
    }

    private static void CheckTokenize(JsonElement c, List<string> errors)
    {
        var tok = BleuTokenizer.Create(c.GetProperty("options").GetProperty("tokenize").GetString()!);
        var input = c.GetProperty("hyps")[0].GetString()!;
        var actual = tok.Tokenize(input);
        var exp = c.GetProperty("expected");
        if (actual != exp.GetProperty("tokenized").GetString()) errors.Add($"tokenized '{actual}'");
        var tokens = Strings(exp.GetProperty("tokens"));
        var split = PyText.Split(actual);
        if (!tokens.SequenceEqual(split)) errors.Add($"tokens [{string.Join("|", split)}]");
    }
}

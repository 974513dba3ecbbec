namespace MLNetExtensions.Evaluators.Translation.Metrics;

/// <summary>BLEU smoothing methods of Chen &amp; Cherry (2014), as named by sacreBLEU.</summary>
public enum BleuSmoothing
{
    /// <summary>No smoothing (<c>smooth:none</c>).</summary>
    None,
    /// <summary>Method 1: a zero-match order gets <c>SmoothValue / total</c> (default 0.1; <c>smooth:floor</c>).</summary>
    Floor,
    /// <summary>Method 2: add <c>SmoothValue</c> (default 1) to matches and totals for n ≥ 2 (<c>smooth:add-k</c>).</summary>
    AddK,
    /// <summary>Method 3, NIST/mteval: the k-th zero-match order gets <c>1 / (2^k · total)</c> (<c>smooth:exp</c>, default).</summary>
    Exp,
}

/// <summary>Options of <see cref="Bleu"/>; the defaults are sacreBLEU's <c>BLEU()</c> defaults.</summary>
public sealed record BleuOptions
{
    /// <summary>Tokenizer name: 13a (default), intl, zh, char or none. Null picks by <see cref="TargetLanguage"/>.</summary>
    public string? Tokenize { get; init; }
    /// <summary>Smoothing method; default <see cref="BleuSmoothing.Exp"/>.</summary>
    public BleuSmoothing Smoothing { get; init; } = BleuSmoothing.Exp;
    /// <summary>Parameter of floor/add-k smoothing; null uses the method default (0.1 / 1).</summary>
    public double? SmoothValue { get; init; }
    /// <summary>Lower-case hypotheses and references first (Python full case mapping).</summary>
    public bool Lowercase { get; init; }
    /// <summary>Average only the orders that have hypothesis n-grams; recommended for sentence BLEU.</summary>
    public bool EffectiveOrder { get; init; }
    /// <summary>Highest n-gram order, default 4.</summary>
    public int MaxNgramOrder { get; init; } = 4;
    /// <summary>Target language code; with <see cref="Tokenize"/> null, "zh" selects the zh tokenizer.</summary>
    public string? TargetLanguage { get; init; }

    /// <summary>sacreBLEU's <c>compat.sentence_bleu</c> defaults: exp smoothing with effective order.</summary>
    public static BleuOptions SentenceDefaults { get; } = new() { EffectiveOrder = true };

    /// <summary>The tokenizer actually used.</summary>
    public string ResolvedTokenizer => Tokenize ?? Tokenizers.BleuTokenizer.DefaultFor(TargetLanguage);

    internal static string SmoothName(BleuSmoothing s) => s switch
    {
        BleuSmoothing.None => "none",
        BleuSmoothing.Floor => "floor",
        BleuSmoothing.AddK => "add-k",
        _ => "exp",
    };

    /// <summary>Parses a sacreBLEU smoothing name (none, floor, add-k, exp).</summary>
    public static BleuSmoothing ParseSmoothing(string name) => name switch
    {
        "none" => BleuSmoothing.None,
        "floor" => BleuSmoothing.Floor,
        "add-k" => BleuSmoothing.AddK,
        "exp" => BleuSmoothing.Exp,
        _ => throw new ArgumentException($"Unknown smoothing method '{name}'; expected none, floor, add-k or exp.", nameof(name)),
    };

    internal static double? SmoothDefault(BleuSmoothing s) => s switch
    {
        BleuSmoothing.Floor => 0.1,
        BleuSmoothing.AddK => 1,
        _ => null,
    };
}

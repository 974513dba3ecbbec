using MLNetExtensions.Evaluators.Translation.Llm;

namespace MLNetExtensions.Evaluators.Translation.Judge;

/// <summary>Settings of <see cref="LlmJudgeEvaluator"/>: endpoint and resilience (inherited), protocol, cache, statistics.</summary>
public sealed class LlmJudgeOptions : LlmClientOptions
{
    /// <summary>Environment variable overriding the model for the judge only.</summary>
    public const string JudgeModelVariable = "MLNETEXT_JUDGE_MODEL";
    /// <summary>Environment variable giving the cache directory.</summary>
    public const string CacheVariable = "MLNETEXT_JUDGE_CACHE";

    /// <summary>Prompt templates; default the paper-equivalent rubric.</summary>
    public JudgePromptProfile Prompts { get; set; } = JudgePromptProfile.Paper;
    /// <summary>Dimensions to judge (default all three).</summary>
    public IReadOnlyList<JudgeDimension> Dimensions { get; set; } = new[] { JudgeDimension.Fluency, JudgeDimension.Accuracy, JudgeDimension.Cohesion };
    /// <summary>Extension (not in the paper): also show the source text to the Accuracy and Cohesion judge.</summary>
    public bool SourceAware { get; set; }
    /// <summary>Re-asks after an unparsable answer (the first with the same prompt, later ones with a JSON-only reminder).</summary>
    public int MaxParseRetries { get; set; } = 2;
    /// <summary>Ask the server for a JSON object (<c>response_format</c>); turn off for servers that reject it.</summary>
    public bool RequestJsonMode { get; set; } = true;
    /// <summary>On-disk cache directory; null disables caching.</summary>
    public string? CacheDirectory { get; set; }
    /// <summary>Bootstrap resamples for confidence intervals.</summary>
    public int BootstrapSamples { get; set; } = 1000;
    /// <summary>Confidence level of the intervals.</summary>
    public double Confidence { get; set; } = 0.95;
    /// <summary>Seed of the bootstrap.</summary>
    public int BootstrapSeed { get; set; } = 12345;
    /// <summary>Extension (not in the paper): add error counts per 100 hypothesis tokens (raw counts grow with length).</summary>
    public bool NormalizePer100Tokens { get; set; }

    /// <summary>Options from the environment (see <see cref="LlmClientOptions.ConfigurationHelp"/>), plus judge model and cache overrides.</summary>
    public static LlmJudgeOptions FromEnvironment()
    {
        var o = new LlmJudgeOptions();
        o.ReadEnvironment();
        var model = Environment.GetEnvironmentVariable(JudgeModelVariable);
        if (!string.IsNullOrWhiteSpace(model)) o.Model = model.Trim();
        var cache = Environment.GetEnvironmentVariable(CacheVariable);
        if (!string.IsNullOrWhiteSpace(cache)) o.CacheDirectory = cache.Trim();
        return o;
    }
}

using Microsoft.ML;
using MLNetExtensions.Core.Text;
using MLNetExtensions.Transforms.Rlhf.RewardModels;

namespace MLNetExtensions.Estimators.Rlhf;

/// <summary>RLHF components: <c>mlContext.Rlhf().…</c>.</summary>
public sealed class RlhfCatalog
{
    internal RlhfCatalog(MLContext context) => Context = context;

    /// <summary>The context.</summary>
    public MLContext Context { get; }

    /// <summary>A text reward model from options.</summary>
    public TextRewardModelTrainer RewardModel(TextRewardModelOptions options) => new(Context, options);

    /// <summary>
    /// A fine-grained (separator-level) reward model over Prompt[, Context], Response and a per-separator Labels column
    /// (1 = error). <paramref name="ignoreContext"/> false also reads <paramref name="contextColumnName"/> (factuality).
    /// </summary>
    public TextRewardModelTrainer FineGrainedRewardModel(TextTokenizer tokenizer, string labelColumnName = "Labels", string promptColumnName = "Prompt",
        string responseColumnName = "Response", bool ignoreContext = true, string contextColumnName = "Context", int maxEpochs = 3, double? learningRate = null)
    {
        var o = new TextRewardModelOptions
        {
            Kind = TextRewardModelKind.FineGrained, Tokenizer = tokenizer, LabelColumnName = labelColumnName, PromptColumnName = promptColumnName,
            ResponseColumnName = responseColumnName, IgnoreContext = ignoreContext, ContextColumnName = contextColumnName, MaxEpochs = maxEpochs,
        };
        if (learningRate is double lr) o.LearningRate = lr;
        return RewardModel(o);
    }

    /// <summary>A preference reward model over Prompt, Chosen and Rejected (pairwise loss, normalised scores); it scores Response.</summary>
    public TextRewardModelTrainer PreferenceRewardModel(TextTokenizer tokenizer, string promptColumnName = "Prompt", string chosenColumnName = "Chosen",
        string rejectedColumnName = "Rejected", string responseColumnName = "Response", int maxEpochs = 3, double? learningRate = null)
    {
        var o = new TextRewardModelOptions
        {
            Kind = TextRewardModelKind.Preference, Tokenizer = tokenizer, PromptColumnName = promptColumnName, ChosenColumnName = chosenColumnName,
            RejectedColumnName = rejectedColumnName, ResponseColumnName = responseColumnName, MaxEpochs = maxEpochs,
        };
        if (learningRate is double lr) o.LearningRate = lr;
        return RewardModel(o);
    }
}

/// <summary><c>mlContext.Rlhf()</c>.</summary>
public static class RlhfCatalogExtensions
{
    /// <summary>The RLHF catalog of this context.</summary>
    public static RlhfCatalog Rlhf(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return new RlhfCatalog(mlContext);
    }
}

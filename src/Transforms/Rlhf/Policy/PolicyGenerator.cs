using MLNetExtensions.Core.Text;
using MLNetExtensions.Transforms.Language;

namespace MLNetExtensions.Transforms.Rlhf.Policy;

/// <summary>One generated response: its tokens (the stop token included when reached), text (separators kept) and whether it stopped.</summary>
public sealed record GeneratedResponse(long[] Tokens, string Text, bool Stopped);

/// <summary>Prompt text → response text with a policy (greedy or top-k/temperature sampling, max tokens, stop token; seeded).</summary>
public static class PolicyGenerator
{
    /// <summary>The prompt's ids as the policy sees it (bos + prompt).</summary>
    public static long[] PromptIds(TextTokenizer tokenizer, string prompt) => tokenizer.Encode(prompt, addBos: true, addEos: false).Ids;

    /// <summary>Generates one response per prompt in batches of <paramref name="batchSize"/> (each batch seeded from <c>options.Seed</c> + batch index).</summary>
    public static IReadOnlyList<GeneratedResponse> Generate(CausalLm policy, TextTokenizer tokenizer, IReadOnlyList<string> prompts, GenerationOptions options, int batchSize = 64)
    {
        var result = new List<GeneratedResponse>(prompts.Count);
        for (int s = 0, bi = 0; s < prompts.Count; s += batchSize, bi++)
        {
            var ids = prompts.Skip(s).Take(batchSize).Select(p => PromptIds(tokenizer, p)).ToArray();
            var g = TextGeneration.Generate(policy, ids, options with { Seed = options.Seed + bi });
            for (int i = 0; i < ids.Length; i++)
                result.Add(new GeneratedResponse(g.Tokens[i], tokenizer.Decode(g.Tokens[i], stopAtEos: true, skipSpecialTokens: true, keepSeparator: true), g.Stopped[i]));
        }
        return result;
    }
}

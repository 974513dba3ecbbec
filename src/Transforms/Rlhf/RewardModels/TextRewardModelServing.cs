using System.Text.Json;
using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Text;

namespace MLNetExtensions.Transforms.Rlhf.RewardModels;

/// <summary>
/// What a fitted reward model needs at serving time beyond its weights (saved as the <c>RewardModel.json</c> stream):
/// the columns it reads, their token budgets, and the score normalisation (μ, σ) of the preference kind.
/// </summary>
public sealed record TextRewardModelServing(TextRewardModelKind Kind, string PromptColumn, string? ContextColumn, string ResponseColumn,
    int PromptMaxLength, int ContextMaxLength, int ResponseMaxLength, double ScoreMean = 0, double ScoreStd = 1)
{
    /// <summary>Stream name inside the model zip.</summary>
    public const string StreamName = "RewardModel.json";
    /// <summary>Tokenizer stream name inside the model zip.</summary>
    public const string TokenizerStream = "Tokenizer.bin";

    /// <summary>
    /// The token inputs: the prompt with bos, the context (when read), the response with eos; prompts keep their tail
    /// when cut (the question end matters), responses their head.
    /// </summary>
    public IReadOnlyList<InputSpec> Inputs(TextTokenizer tokenizer)
    {
        var list = new List<InputSpec>
        {
            new TokenInputSpec(PromptColumn, TextRewardNetwork.PromptSlot, PromptMaxLength)
                { Truncation = Core.Data.Binding.TruncationSide.KeepTail, Encoder = new TextTokenEncoder(tokenizer, addBos: true, addEos: false) },
        };
        if (ContextColumn != null)
            list.Add(new TokenInputSpec(ContextColumn, TextRewardNetwork.ContextSlot, ContextMaxLength) { Encoder = new TextTokenEncoder(tokenizer, false, false) });
        list.Add(new TokenInputSpec(ResponseColumn, TextRewardNetwork.ResponseSlot, ResponseMaxLength) { Encoder = new TextTokenEncoder(tokenizer, false, true) });
        return list;
    }

    /// <summary>JSON bytes.</summary>
    public byte[] ToBytes() => JsonSerializer.SerializeToUtf8Bytes(this);

    /// <summary>Parses the stream.</summary>
    public static TextRewardModelServing FromBytes(byte[] bytes) =>
        JsonSerializer.Deserialize<TextRewardModelServing>(bytes) ?? throw new InvalidDataException($"The reward model's {StreamName} stream is empty.");
}

using MLNetExtensions.Core.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Rlhf.RewardModels;

/// <summary>
/// Scores (prompt[, context], response) texts with a reward network directly, in batches, without an ML.NET data view:
/// the same tokenisation as the transformer (prompt with bos keeping its tail, context, response with eos keeping its
/// head, each within its budget; padding masked). The PPO loop calls it every step, and a sweep serves many
/// checkpoints of one training run through it (weights loaded into one network each).
/// </summary>
public sealed class TextRewardScorer
{
    private readonly TextRewardNetwork _net;
    private readonly TextTokenizer _tok;
    private readonly Core.Data.Binding.TokenInputSpec[] _specs;

    /// <summary>Wraps <paramref name="network"/> (kept in eval mode) with the serving info.</summary>
    public TextRewardScorer(TextRewardNetwork network, TextTokenizer tokenizer, TextRewardModelServing serving, int batchSize = 128)
    {
        _net = network ?? throw new ArgumentNullException(nameof(network));
        _tok = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        Serving = serving ?? throw new ArgumentNullException(nameof(serving));
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "TextRewardScorer: batchSize must be ≥ 1.");
        BatchSize = batchSize;
        _specs = serving.Inputs(tokenizer).Cast<Core.Data.Binding.TokenInputSpec>().ToArray();
        _net.eval();
    }

    /// <summary>Budgets, kind and (preference) normalisation.</summary>
    public TextRewardModelServing Serving { get; }
    /// <summary>Rows per forward.</summary>
    public int BatchSize { get; }
    /// <summary>The network.</summary>
    public TextRewardNetwork Network => _net;

    /// <summary>Fine-grained kind: P(no error) at every separator of each response (separators cut by the budget get none).</summary>
    public float[][] SentenceScores(IReadOnlyList<(string Prompt, string Context, string Response)> rows)
    {
        if (Serving.Kind != TextRewardModelKind.FineGrained) throw new InvalidOperationException("TextRewardScorer.SentenceScores needs a fine-grained reward model.");
        var result = new List<float[]>(rows.Count);
        foreach (var chunk in rows.Chunk(BatchSize))
        {
            using var scope = torch.NewDisposeScope();
            using var mode = torch.inference_mode();
            var o = _net.call(Inputs(chunk));
            result.AddRange(TextRewardModelTransformer.SentenceProbabilities(o, chunk.Length));
        }
        return result.ToArray();
    }

    /// <summary>Preference kind: the raw scalar s of each response (before normalisation).</summary>
    public float[] RawScores(IReadOnlyList<(string Prompt, string Context, string Response)> rows)
    {
        if (Serving.Kind != TextRewardModelKind.Preference) throw new InvalidOperationException("TextRewardScorer.RawScores needs a preference reward model.");
        var result = new List<float>(rows.Count);
        foreach (var chunk in rows.Chunk(BatchSize))
        {
            using var scope = torch.NewDisposeScope();
            using var mode = torch.inference_mode();
            result.AddRange(_net.call(Inputs(chunk))[TextRewardNetwork.ScoreOutput].to(float32).cpu().data<float>().ToArray());
        }
        return result.ToArray();
    }

    /// <summary>Preference kind: (s − μ)/σ with the serving's statistics.</summary>
    public float[] Scores(IReadOnlyList<(string Prompt, string Context, string Response)> rows) =>
        RawScores(rows).Select(s => (float)((s - Serving.ScoreMean) / Serving.ScoreStd)).ToArray();

    private Dictionary<string, Tensor> Inputs((string Prompt, string Context, string Response)[] rows)
    {
        // The serving's own input specs cut the texts, so scores equal the transformer's.
        var d = new Dictionary<string, Tensor>();
        foreach (var spec in _specs)
        {
            var texts = spec.Slot == TextRewardNetwork.PromptSlot ? rows.Select(r => r.Prompt)
                : spec.Slot == TextRewardNetwork.ContextSlot ? rows.Select(r => r.Context) : rows.Select(r => r.Response);
            var encoded = texts.Select(t => spec.EncodeTruncated(spec.Encoder!, t ?? "").Select(i => (long)i).ToArray()).ToArray();
            var b = TextTokenizer.Pad(encoded, PaddingSide.Right, Math.Max(1, encoded.Max(e => e.Length)));
            d[spec.Slot] = torch.tensor(b.Ids, new long[] { b.BatchSize, b.SequenceLength });
            d[spec.Slot + TextRewardNetwork.MaskSuffix] = torch.tensor(b.AttentionMask, new long[] { b.BatchSize, b.SequenceLength });
        }
        return d;
    }
}

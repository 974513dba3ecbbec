using MLNetExtensions.Core.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Language;

/// <summary>Decoding settings of <see cref="TextGeneration"/>.</summary>
public sealed record GenerationOptions
{
    /// <summary>Most tokens generated per row (default 32).</summary>
    public int MaxNewTokens { get; init; } = 32;
    /// <summary>True: argmax at every step (Temperature and TopK ignored). Default true.</summary>
    public bool Greedy { get; init; } = true;
    /// <summary>Sample among the k most likely tokens (0 = the whole vocabulary). Default 0.</summary>
    public int TopK { get; init; }
    /// <summary>Softmax temperature for sampling (&gt; 0). Default 1.</summary>
    public double Temperature { get; init; } = 1.0;
    /// <summary>A row stops after emitting this token (included in its output); null = never. Default 3 (TextTokenizer eos).</summary>
    public long? StopTokenId { get; init; } = 3;
    /// <summary>Pad id used to left-pad the prompts (default 0).</summary>
    public long PadTokenId { get; init; }
    /// <summary>Seed of the sampling generator: the same seed, model and prompts give the same output.</summary>
    public long Seed { get; init; }

    /// <summary>Throws naming the first invalid setting.</summary>
    public void Validate()
    {
        if (MaxNewTokens < 1) throw new ArgumentOutOfRangeException(nameof(MaxNewTokens), MaxNewTokens, "GenerationOptions.MaxNewTokens must be at least 1.");
        if (TopK < 0) throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "GenerationOptions.TopK must be ≥ 0 (0 = no top-k cut).");
        if (!(Temperature > 0) || double.IsInfinity(Temperature))
            throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "GenerationOptions.Temperature must be a positive finite number.");
    }
}

/// <summary>
/// Generated continuations. <see cref="Tokens"/>[b] holds row b's new tokens, the stop token included when it was
/// emitted.
/// </summary>
public sealed record GenerationResult(long[][] Tokens, bool[] Stopped, bool[] HitContextLimit)
{
    /// <summary>
    /// Prompt + response rows packed for a teacher-forced pass (PPO, log-probs, value): right-padded (B, T) ids,
    /// attention mask, and a response mask (1 on the generated tokens), all row-major.
    /// </summary>
    public SequenceBatch ToSequenceBatch(IReadOnlyList<long[]> prompts, long padTokenId = 0)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count != Tokens.Length)
            throw new ArgumentException($"GenerationResult.ToSequenceBatch: {prompts.Count} prompts for {Tokens.Length} generated rows.");
        int b = Tokens.Length, t = 0;
        for (int i = 0; i < b; i++) t = Math.Max(t, prompts[i].Length + Tokens[i].Length);
        var ids = new long[b * t];
        Array.Fill(ids, padTokenId);
        var mask = new long[b * t];
        var resp = new long[b * t];
        for (int i = 0; i < b; i++)
        {
            int o = i * t;
            prompts[i].CopyTo(ids, o);
            Tokens[i].CopyTo(ids, o + prompts[i].Length);
            mask.AsSpan(o, prompts[i].Length + Tokens[i].Length).Fill(1);
            resp.AsSpan(o + prompts[i].Length, Tokens[i].Length).Fill(1);
        }
        return new SequenceBatch(ids, mask, resp, b, t);
    }
}

/// <summary>Row-major (BatchSize × SequenceLength) ids, attention mask and response mask.</summary>
public sealed record SequenceBatch(long[] Ids, long[] AttentionMask, long[] ResponseMask, int BatchSize, int SequenceLength)
{
    /// <summary>The three arrays as (B, T) int64 tensors on <paramref name="device"/> (CPU by default).</summary>
    public (Tensor Ids, Tensor AttentionMask, Tensor ResponseMask) ToTensors(Device? device = null)
    {
        long[] shape = { BatchSize, SequenceLength };
        return (torch.tensor(Ids, shape, device: device), torch.tensor(AttentionMask, shape, device: device),
            torch.tensor(ResponseMask, shape, device: device));
    }
}

/// <summary>
/// Seeded autoregressive decoding (greedy, top-k, temperature, max new tokens, stop token). Prompts of different
/// lengths are left-padded so every row's last token sits at the same position. Each step runs in its own dispose
/// scope under no-grad and rebuilds its input from managed arrays, so no tensor outlives a step (no KV cache: the
/// whole prefix is recomputed per step, fine at the 64-token scale these models run at).
/// </summary>
public static class TextGeneration
{
    /// <summary>Generates from a <see cref="CausalLm"/> (put in eval mode for the call and restored after).</summary>
    public static GenerationResult Generate(CausalLm model, IReadOnlyList<long[]> prompts, GenerationOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        bool wasTraining = model.training;
        model.eval();
        try
        {
            return Generate((ids, mask) =>
            {
                using var logits = model.Logits(ids, attentionMask: mask);
                return logits.select(1, -1);
            }, prompts, options, model.Config.MaxPositions);
        }
        finally { if (wasTraining) model.train(); }
    }

    /// <summary>
    /// Generates with any next-token function: <paramref name="nextTokenLogits"/> receives left-padded ids (B, T) and
    /// their mask (B, T) and returns the (B, V) logits of the last position (a VLM splices its image tokens here).
    /// Generation stops for every row when the sequence reaches <paramref name="maxLength"/> tokens.
    /// </summary>
    public static GenerationResult Generate(Func<Tensor, Tensor, Tensor> nextTokenLogits, IReadOnlyList<long[]> prompts,
        GenerationOptions options, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(nextTokenLogits);
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        int b = prompts.Count;
        for (int i = 0; i < b; i++)
        {
            if (prompts[i] is null || prompts[i].Length == 0)
                throw new ArgumentException($"TextGeneration: prompt #{i} is empty; give at least one token (e.g. bos).", nameof(prompts));
            if (prompts[i].Length > maxLength)
                throw new ArgumentException($"TextGeneration: prompt #{i} has {prompts[i].Length} tokens, more than the model's {maxLength} positions.", nameof(prompts));
        }
        var outputs = Enumerable.Range(0, b).Select(_ => new List<long>()).ToArray();
        var stopped = new bool[b];
        var hitLimit = new bool[b];
        if (b == 0) return new GenerationResult(Array.Empty<long[]>(), stopped, hitLimit);

        using var generator = new torch.Generator((ulong)options.Seed);
        double invTemperature = 1.0 / options.Temperature;
        using var noGrad = torch.no_grad();
        int promptLen = prompts.Max(p => p.Length);
        for (int step = 0; step < options.MaxNewTokens; step++)
        {
            int t = promptLen + step;
            if (t >= maxLength)
            {
                for (int i = 0; i < b; i++) if (!stopped[i]) hitLimit[i] = true;
                break;
            }
            // Row i: left pads, prompt, its generated tokens, then pads (mask 0) once it stopped.
            var ids = new long[b * (long)(t)];
            var mask = new long[b * (long)(t)];
            Array.Fill(ids, options.PadTokenId);
            for (int i = 0; i < b; i++)
            {
                int off = i * t + (promptLen - prompts[i].Length);
                prompts[i].CopyTo(ids, off);
                mask.AsSpan(off, prompts[i].Length).Fill(1);
                off += prompts[i].Length;
                for (int j = 0; j < outputs[i].Count; j++) { ids[off + j] = outputs[i][j]; mask[off + j] = 1; }
            }
            long[] next;
            using (var scope = torch.NewDisposeScope())
            {
                var idsT = torch.tensor(ids, new long[] { b, t });
                var maskT = torch.tensor(mask, new long[] { b, t });
                var logits = nextTokenLogits(idsT, maskT).to_type(ScalarType.Float32);
                if (logits.dim() != 2 || logits.shape[0] != b)
                    throw new InvalidOperationException($"TextGeneration: the next-token function returned ({string.Join(", ", logits.shape)}), expected ({b}, V).");
                // The stopped rows' last position is a pad: their logits are computed but ignored.
                Tensor chosen;
                if (options.Greedy)
                    chosen = logits.argmax(-1);
                else if (options.TopK > 0 && options.TopK < logits.shape[1])
                {
                    var (vals, idx) = logits.topk(options.TopK, -1);
                    var probs = vals.Times(invTemperature).softmax(-1);
                    var pick = probs.multinomial(1, false, generator);
                    chosen = idx.gather(-1, pick).squeeze(-1);
                }
                else
                    chosen = logits.Times(invTemperature).softmax(-1).multinomial(1, false, generator).squeeze(-1);
                next = chosen.to_type(ScalarType.Int64).data<long>().ToArray();
            }
            bool any = false;
            for (int i = 0; i < b; i++)
            {
                if (stopped[i]) continue;
                outputs[i].Add(next[i]);
                if (options.StopTokenId is long stop && next[i] == stop) stopped[i] = true;
                else any = true;
            }
            if (!any) break;
        }
        return new GenerationResult(outputs.Select(o => o.ToArray()).ToArray(), stopped, hitLimit);
    }
}

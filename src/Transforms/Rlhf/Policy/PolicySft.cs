using MLNetExtensions.Core.Torch;
using MLNetExtensions.Core.Text;
using MLNetExtensions.Transforms.Language;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Rlhf.Policy;

/// <summary>Options of <see cref="PolicySft.Train"/> (note §7.3: 3 epochs of teacher-forced cross-entropy on the answers).</summary>
public sealed record PolicySftOptions
{
    /// <summary>Epochs (default 3).</summary>
    public int Epochs { get; init; } = 3;
    /// <summary>Sequences per step (default 32).</summary>
    public int BatchSize { get; init; } = 32;
    /// <summary>Adam learning rate (default 1e-3).</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>Shuffle seed (default 0).</summary>
    public int Seed { get; init; }
}

/// <summary>
/// Supervised fine-tuning of a <see cref="CausalLm"/> policy: each row is <c>bos prompt answer eos</c>, and the loss is
/// the next-token cross-entropy on the answer and its eos only (the prompt is context, never a target).
/// </summary>
public static class PolicySft
{
    /// <summary>Token rows of (prompt, answer): bos + prompt, then answer + eos; the answer span is returned for the loss mask.</summary>
    public static (long[] Ids, int AnswerStart) Encode(TextTokenizer tokenizer, string prompt, string answer)
    {
        var p = tokenizer.Encode(prompt, addBos: true, addEos: false).Ids;
        var a = tokenizer.Encode(answer, addBos: false, addEos: true).Ids;
        return (p.Concat(a).ToArray(), p.Length);
    }

    /// <summary>Trains <paramref name="policy"/> in place; returns the mean loss of every epoch.</summary>
    public static IReadOnlyList<double> Train(CausalLm policy, TextTokenizer tokenizer, IReadOnlyList<(string Prompt, string Answer)> data, PolicySftOptions? options = null)
    {
        var o = options ?? new PolicySftOptions();
        if (data.Count == 0) throw new ArgumentException("PolicySft.Train: the data is empty.", nameof(data));
        if (o.Epochs < 1 || o.BatchSize < 1 || !(o.LearningRate > 0)) throw new ArgumentOutOfRangeException(nameof(options), "PolicySft: Epochs and BatchSize must be ≥ 1 and LearningRate > 0.");
        var rows = data.Select(d => Encode(tokenizer, d.Prompt, d.Answer)).ToArray();
        int max = rows.Max(r => r.Ids.Length);
        if (max > policy.Config.MaxPositions)
            throw new ArgumentOutOfRangeException(nameof(data), $"PolicySft.Train: a prompt + answer has {max} tokens; the policy has {policy.Config.MaxPositions} positions.");
        using var opt = new RootedAdamW(policy.parameters(), o.LearningRate);
        var rng = new Random(o.Seed);
        var losses = new List<double>();
        policy.train();
        for (int e = 0; e < o.Epochs; e++)
        {
            var order = Enumerable.Range(0, rows.Length).OrderBy(_ => rng.Next()).ToArray();
            double sum = 0; int n = 0;
            for (int s = 0; s < order.Length; s += o.BatchSize)
            {
                using var scope = torch.NewDisposeScope();
                var batch = order.Skip(s).Take(o.BatchSize).Select(i => rows[i]).ToArray();
                var (ids, mask, loss) = Batch(batch);
                var logits = policy.Logits(ids, attentionMask: mask);
                var l = TokenLogProbs.NextTokenLoss(logits, ids, loss);
                opt.zero_grad();
                l.backward();
                opt.step();
                sum += l.item<float>(); n++;
            }
            losses.Add(sum / n);
        }
        policy.eval();
        return losses;
    }

    private static (Tensor Ids, Tensor Mask, Tensor LossMask) Batch((long[] Ids, int AnswerStart)[] rows)
    {
        int b = rows.Length, t = rows.Max(r => r.Ids.Length);
        var ids = new long[b * t]; var mask = new long[b * t]; var loss = new long[b * t];
        for (int i = 0; i < b; i++)
        {
            rows[i].Ids.CopyTo(ids, i * t);
            for (int j = 0; j < rows[i].Ids.Length; j++) { mask[i * t + j] = 1; if (j >= rows[i].AnswerStart) loss[i * t + j] = 1; }
        }
        long[] shape = { b, t };
        return (torch.tensor(ids, shape), torch.tensor(mask, shape), torch.tensor(loss, shape));
    }
}

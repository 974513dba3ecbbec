using MLNetExtensions.Core.Torch;
using System.Diagnostics;
using MLNetExtensions.Core.Text;
using MLNetExtensions.Transforms.Language;
using MLNetExtensions.Transforms.Rlhf.Policy;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Rlhf.Ppo;

/// <summary>
/// Computes the placed (pre-KL) rewards of generated responses: for each (prompt index, response), one reward per
/// response token (see <see cref="RewardPlacement"/>). A reward model, or the synthetic task's oracle.
/// </summary>
public delegate float[][] TokenRewardFunction(IReadOnlyList<int> promptIndices, IReadOnlyList<GeneratedResponse> responses);

/// <summary>
/// PPO over a causal policy (FineGrainedRLHF's <c>fgrlhf/ppo.py</c>, one reward type per run): sample
/// <c>PromptsPerRollout × SamplesPerPrompt</c> responses (top-k, temperature), place rewards, subtract β·KL to the frozen
/// reference per token, whiten rewards (scale only), GAE (γ, λ), whiten advantages, then <c>PpoEpochs</c> epochs of
/// clipped policy + clipped value loss over minibatches, one Adam (lr, ε) over policy and value model with linear
/// warm-up and decay; stops early after <c>KlStopCount</c> steps with batch-mean summed KL above the threshold.
/// </summary>
public sealed class PpoTrainer : IDisposable
{
    private readonly CausalLm _policy, _reference;
    private readonly CausalScoreModel _value;
    private readonly TextTokenizer _tok;
    private readonly PpoOptions _o;
    private readonly torch.optim.Optimizer _opt;
    private int _updates, _klExceeded;
    private readonly int _totalUpdates;

    /// <summary>Creates the trainer; <paramref name="reference"/> is frozen here.</summary>
    public PpoTrainer(CausalLm policy, CausalLm reference, CausalScoreModel value, TextTokenizer tokenizer, PpoOptions? options = null)
    {
        _policy = policy ?? throw new ArgumentNullException(nameof(policy));
        _reference = reference ?? throw new ArgumentNullException(nameof(reference));
        _value = value ?? throw new ArgumentNullException(nameof(value));
        _tok = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        _o = options ?? new PpoOptions();
        _o.Validate();
        foreach (var p in _reference.parameters()) p.requires_grad_(false);
        _reference.eval();
        _opt = new RootedAdamW(_policy.parameters().Concat(_value.parameters()), _o.LearningRate, eps: _o.AdamEps);
        int rows = _o.PromptsPerRollout * _o.SamplesPerPrompt;
        _totalUpdates = _o.Steps * _o.PpoEpochs * ((rows + _o.MiniBatchSize - 1) / _o.MiniBatchSize);
    }

    /// <summary>Whether the KL early-stop rule has fired.</summary>
    public bool EarlyStopped => _klExceeded >= _o.KlStopCount;

    /// <summary>Learning rate of update <paramref name="update"/>: linear warm-up, then linear decay to 0.</summary>
    public double LearningRateAt(int update) => update < _o.WarmupUpdates
        ? _o.LearningRate * (update + 1) / _o.WarmupUpdates
        : _o.LearningRate * Math.Max(0, _totalUpdates - update) / Math.Max(1, _totalUpdates - _o.WarmupUpdates);

    /// <summary>One rollout + PPO update over the prompts <paramref name="promptIndices"/> of <paramref name="prompts"/>.</summary>
    public PpoStepRecord Step(int step, IReadOnlyList<string> prompts, IReadOnlyList<int> promptIndices, TokenRewardFunction reward)
    {
        var sw = Stopwatch.StartNew();
        // 1. Rollout: every prompt SamplesPerPrompt times, sampled with top-k and temperature.
        var rowPrompt = promptIndices.SelectMany(i => Enumerable.Repeat(i, _o.SamplesPerPrompt)).ToArray();
        var gen = new GenerationOptions { Greedy = false, TopK = _o.TopK, Temperature = _o.Temperature, MaxNewTokens = _o.MaxNewTokens, Seed = _o.Seed * 100_003L + step };
        var responses = PolicyGenerator.Generate(_policy, _tok, rowPrompt.Select(i => prompts[i]).ToArray(), gen, batchSize: rowPrompt.Length);
        double genSeconds = sw.Elapsed.TotalSeconds;
        var placed = reward(rowPrompt, responses);
        var promptIds = rowPrompt.Select(i => PolicyGenerator.PromptIds(_tok, prompts[i])).ToArray();
        var result = new GenerationResult(responses.Select(r => r.Tokens).ToArray(), responses.Select(r => r.Stopped).ToArray(), new bool[responses.Count]);
        var seq = result.ToSequenceBatch(promptIds);
        int b = seq.BatchSize, t = seq.SequenceLength;

        // Placed rewards on next-token entries: response token j of row i is entry (prompt_i + j − 1).
        var placedFlat = new float[b * (t - 1)];
        double rawSum = 0, rawSq = 0;
        for (int i = 0; i < b; i++)
        {
            if (placed[i].Length != responses[i].Tokens.Length) throw new InvalidOperationException($"PpoTrainer: the reward function gave {placed[i].Length} rewards for a response of {responses[i].Tokens.Length} tokens.");
            double s = 0;
            for (int j = 0; j < placed[i].Length; j++) { placedFlat[i * (t - 1) + promptIds[i].Length + j - 1] = placed[i][j]; s += placed[i][j]; }
            rawSum += s; rawSq += s * s;
        }
        double rawMean = rawSum / b, rawVar = rawSq / b - rawMean * rawMean;

        Tensor ids, mask, respMask, oldLogp, oldValues, advantages, returns;
        double klMean, penalized;
        using (var outer = torch.NewDisposeScope())
        {
            var (idsT, maskT, respT) = seq.ToTensors();
            ids = idsT; mask = maskT;
            respMask = TokenLogProbs.ShiftMask(respT).to_type(ScalarType.Float32);
            using (torch.no_grad())
            {
                _policy.eval(); _value.eval();
                oldLogp = TokenLogProbs.OfSequence(_policy, ids, mask) * respMask;
                var refLogp = TokenLogProbs.OfSequence(_reference, ids, mask) * respMask;
                oldValues = _value.Score(ids, mask, ScoreReduction.PerPosition).narrow(1, 0, t - 1) * respMask;
                var placedT = torch.tensor(placedFlat, new long[] { b, t - 1 });
                var (rewards, kl) = PpoMath.PenalizedRewards(placedT, oldLogp, refLogp, respMask, _o.KlCoef);
                klMean = kl.sum(1).mean().item<float>();
                penalized = rewards.sum(1).mean().item<float>();
                if (_o.WhitenRewards) rewards = PpoMath.Whiten(rewards, respMask, shiftMean: false);
                (advantages, returns) = PpoMath.Gae(rewards, oldValues, respMask, _o.Gamma, _o.Lambda);
                advantages = PpoMath.Whiten(advantages, respMask, shiftMean: true);
            }
            foreach (var x in new[] { ids, mask, respMask, oldLogp, oldValues, advantages, returns }) x.MoveToOuterDisposeScope();
        }
        if (klMean > _o.KlStopThreshold) _klExceeded++;

        // 2. PPO epochs over shuffled minibatches.
        _policy.train(); _value.train();
        var rng = new Random(unchecked(_o.Seed * 7919 + step));
        double pgSum = 0, vfSum = 0, clipSum = 0, lr = 0; int mb = 0; long trained = 0;
        for (int e = 0; e < _o.PpoEpochs; e++)
        {
            var order = Enumerable.Range(0, b).OrderBy(_ => rng.Next()).ToArray();
            for (int s = 0; s < b; s += _o.MiniBatchSize)
            {
                using var scope = torch.NewDisposeScope();
                var idx = torch.tensor(order.Skip(s).Take(_o.MiniBatchSize).Select(v => (long)v).ToArray());
                var mIds = ids.index_select(0, idx); var mMask = mask.index_select(0, idx); var mResp = respMask.index_select(0, idx);
                var logp = TokenLogProbs.OfSequence(_policy, mIds, mMask) * mResp;
                var values = _value.Score(mIds, mMask, ScoreReduction.PerPosition).narrow(1, 0, t - 1) * mResp;
                var (pg, clipFrac) = PpoMath.PolicyLoss(logp, oldLogp.index_select(0, idx), advantages.index_select(0, idx), mResp, _o.PolicyClip);
                var vf = PpoMath.ValueLoss(values, oldValues.index_select(0, idx), returns.index_select(0, idx), mResp, _o.ValueClip);
                var loss = pg.Plus(vf.Times((float)_o.ValueCoef));
                lr = LearningRateAt(_updates++);
                foreach (var g in _opt.ParamGroups) g.LearningRate = lr;
                _opt.zero_grad();
                loss.backward();
                _opt.step();
                pgSum += pg.item<float>(); vfSum += vf.item<float>(); clipSum += clipFrac; mb++;
                trained += mResp.sum().item<float>() is var n ? (long)n : 0;
            }
        }
        _policy.eval(); _value.eval();
        long generated = responses.Sum(r => (long)r.Tokens.Length);
        foreach (var x in new[] { ids, mask, respMask, oldLogp, oldValues, advantages, returns }) x.Dispose();
        return new PpoStepRecord(step, rawMean, rawVar, klMean, penalized, pgSum / mb, vfSum / mb, lr, clipSum / mb,
            responses.Average(r => r.Tokens.Length), sw.Elapsed.TotalSeconds, generated, trained, genSeconds);
    }

    /// <inheritdoc/>
    public void Dispose() => _opt.Dispose();
}

namespace MLNetExtensions.Transforms.Rlhf.Ppo;

/// <summary>PPO settings; defaults are note §7.3's scaled-down version of the paper's (§4).</summary>
public sealed record PpoOptions
{
    /// <summary>KL coefficient β (default 0.3).</summary>
    public double KlCoef { get; init; } = 0.3;
    /// <summary>Discount γ (default 1).</summary>
    public double Gamma { get; init; } = 1.0;
    /// <summary>GAE λ (default 0.95).</summary>
    public double Lambda { get; init; } = 0.95;
    /// <summary>Policy ratio clip ε (default 0.2).</summary>
    public double PolicyClip { get; init; } = 0.2;
    /// <summary>Value clip (default 0.2).</summary>
    public double ValueClip { get; init; } = 0.2;
    /// <summary>Value loss coefficient (default 1).</summary>
    public double ValueCoef { get; init; } = 1.0;
    /// <summary>Whiten the KL-penalised rewards, scale only (default true).</summary>
    public bool WhitenRewards { get; init; } = true;
    /// <summary>PPO epochs per rollout (default 4).</summary>
    public int PpoEpochs { get; init; } = 4;
    /// <summary>Prompts per rollout (default 16).</summary>
    public int PromptsPerRollout { get; init; } = 16;
    /// <summary>Samples per prompt (default 4).</summary>
    public int SamplesPerPrompt { get; init; } = 4;
    /// <summary>Sequences per PPO minibatch (default 16).</summary>
    public int MiniBatchSize { get; init; } = 16;
    /// <summary>Sampling top-k (default 20).</summary>
    public int TopK { get; init; } = 20;
    /// <summary>Sampling temperature (default 0.7).</summary>
    public double Temperature { get; init; } = 0.7;
    /// <summary>Most generated tokens (default 28).</summary>
    public int MaxNewTokens { get; init; } = 28;
    /// <summary>Adam learning rate (default 1e-4).</summary>
    public double LearningRate { get; init; } = 1e-4;
    /// <summary>Adam ε (default 1e-5).</summary>
    public double AdamEps { get; init; } = 1e-5;
    /// <summary>Linear warm-up in optimiser updates (default 40), then linear decay to 0 at the last step.</summary>
    public int WarmupUpdates { get; init; } = 40;
    /// <summary>PPO steps (rollouts) (default 300).</summary>
    public int Steps { get; init; } = 300;
    /// <summary>Early stop once the batch-mean summed KL exceeded this on <see cref="KlStopCount"/> steps (default 10).</summary>
    public double KlStopThreshold { get; init; } = 10;
    /// <summary>See <see cref="KlStopThreshold"/> (default 5, cumulative as in ppo.py).</summary>
    public int KlStopCount { get; init; } = 5;
    /// <summary>Seed of prompt order and sampling (default 42).</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Throws naming the first invalid setting.</summary>
    public void Validate()
    {
        if (KlCoef < 0) throw new ArgumentOutOfRangeException(nameof(KlCoef), KlCoef, "PpoOptions.KlCoef must be ≥ 0.");
        if (!(Gamma is > 0 and <= 1) || !(Lambda is >= 0 and <= 1)) throw new ArgumentOutOfRangeException(nameof(Gamma), "PpoOptions: Gamma must be in (0, 1] and Lambda in [0, 1].");
        if (!(PolicyClip > 0) || !(ValueClip > 0)) throw new ArgumentOutOfRangeException(nameof(PolicyClip), "PpoOptions: PolicyClip and ValueClip must be > 0.");
        foreach (var (n, v) in new[] { (nameof(PpoEpochs), PpoEpochs), (nameof(PromptsPerRollout), PromptsPerRollout), (nameof(SamplesPerPrompt), SamplesPerPrompt), (nameof(MiniBatchSize), MiniBatchSize), (nameof(MaxNewTokens), MaxNewTokens), (nameof(Steps), Steps), (nameof(KlStopCount), KlStopCount) })
            if (v < 1) throw new ArgumentOutOfRangeException(n, v, $"PpoOptions.{n} must be ≥ 1.");
        if (!(LearningRate > 0) || !(AdamEps > 0)) throw new ArgumentOutOfRangeException(nameof(LearningRate), "PpoOptions: LearningRate and AdamEps must be > 0.");
        if (!(Temperature > 0)) throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "PpoOptions.Temperature must be > 0.");
    }
}

/// <summary>One PPO step's record (the note's history columns); <c>GenerationSeconds</c> is the rollout sampling part of <c>Seconds</c>.</summary>
public sealed record PpoStepRecord(int Step, double RawReward, double RawRewardVar, double Kl, double PenalizedReward, double PolicyLoss, double ValueLoss,
    double LearningRate, double ClipFraction, double MeanResponseLength, double Seconds, long GeneratedTokens, long TrainedTokens, double GenerationSeconds = 0);

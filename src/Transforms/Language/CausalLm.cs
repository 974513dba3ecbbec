using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Language;

/// <summary>
/// A small decoder-only causal language model: <see cref="CausalTransformer"/> (<c>transformer.*</c>) plus a bias-free
/// LM head (<c>lm_head.weight</c>, or the token embedding when <see cref="CausalLmConfig.TieEmbeddings"/>).
/// <c>forward(ids)</c> returns (B, T, V) logits; <see cref="Run"/> is the full forward (ids or embeddings, mask,
/// hidden states, per-layer attention probabilities).
/// </summary>
public sealed class CausalLm : nn.Module<Tensor, Tensor>
{
    private readonly CausalTransformer transformer;
    private readonly Linear? lm_head;

    /// <summary>Creates the model; weights are drawn from TorchSharp's global generator (seed it for reproducibility).</summary>
    public CausalLm(CausalLmConfig config) : base(nameof(CausalLm))
    {
        config.Validate();
        Config = config;
        transformer = new CausalTransformer(config);
        if (!config.TieEmbeddings)
        {
            lm_head = nn.Linear(config.DModel, config.VocabSize, hasBias: false);
            using var _ = torch.no_grad();
            lm_head.weight!.normal_(0.0, 0.02);
        }
        RegisterComponents();
    }

    /// <summary>The architecture.</summary>
    public CausalLmConfig Config { get; }

    /// <summary>The trunk (embeddings, blocks, final norm).</summary>
    public CausalTransformer Transformer => transformer;

    /// <summary>Token embeddings (B, T, D) without positions (see <see cref="CausalTransformer.EmbedTokens"/>).</summary>
    public Tensor EmbedTokens(Tensor inputIds) => transformer.EmbedTokens(inputIds);

    /// <summary>(B, T, V) logits of ids (B, T) without padding.</summary>
    public override Tensor forward(Tensor inputIds)
    {
        using var o = Run(inputIds);
        return o.Logits!.alias();
    }

    /// <summary>Logits (B, T, V) for ids or embeddings with an optional mask.</summary>
    public Tensor Logits(Tensor? inputIds = null, Tensor? inputsEmbeds = null, Tensor? attentionMask = null)
    {
        using var o = Run(inputIds, inputsEmbeds, attentionMask);
        return o.Logits!.alias();
    }

    /// <summary>
    /// The full forward (see <see cref="CausalTransformer.Run"/>) plus <see cref="CausalLmOutput.Logits"/>.
    /// </summary>
    public CausalLmOutput Run(Tensor? inputIds = null, Tensor? inputsEmbeds = null, Tensor? attentionMask = null,
        bool returnHiddenStates = false, IReadOnlyCollection<int>? attentionLayers = null)
    {
        var trunk = transformer.Run(inputIds, inputsEmbeds, attentionMask, returnHiddenStates, attentionLayers);
        Tensor logits;
        using (var scope = torch.NewDisposeScope())
        {
            logits = (lm_head is null
                ? nn.functional.linear(trunk.LastHidden, transformer.TokenEmbedding.weight!)
                : lm_head.call(trunk.LastHidden)).MoveToOuterDisposeScope();
        }
        return new CausalLmOutput(logits, trunk.LastHidden, trunk.HiddenStates, trunk.Attentions);
    }
}

/// <summary>Where <see cref="CausalScoreModel"/> reads its scalar.</summary>
public enum ScoreReduction
{
    /// <summary>One score per row at the last real (non-pad) token (reward models, either padding side).</summary>
    LastToken,
    /// <summary>One score per position (B, T) (PPO value model; pad positions are 0).</summary>
    PerPosition,
    /// <summary>One score per row from the mask-weighted mean of the final states (completeness reward model).</summary>
    MeanPool,
}

/// <summary>
/// The causal trunk with a scalar head (<c>score.*</c>): a reward or value model. The head is Linear(D → 1), or
/// Linear(D → hidden) → GELU → Linear(hidden → 1) when <c>headHidden</c> &gt; 0 (the note's "MLP head").
/// </summary>
public sealed class CausalScoreModel : nn.Module<Tensor, Tensor>
{
    private readonly CausalTransformer transformer;
    private readonly Sequential score;

    /// <summary>Creates the model.</summary>
    public CausalScoreModel(CausalLmConfig config, int headHidden = 0) : base(nameof(CausalScoreModel))
    {
        config.Validate();
        if (headHidden < 0) throw new ArgumentOutOfRangeException(nameof(headHidden), headHidden, "CausalScoreModel: headHidden must be ≥ 0.");
        Config = config;
        HeadHidden = headHidden;
        transformer = new CausalTransformer(config);
        score = headHidden > 0
            ? nn.Sequential(nn.Linear(config.DModel, headHidden), nn.GELU(), nn.Linear(headHidden, 1))
            : nn.Sequential(nn.Linear(config.DModel, 1));
        RegisterComponents();
    }

    /// <summary>The architecture.</summary>
    public CausalLmConfig Config { get; }

    /// <summary>Hidden size of the MLP head (0 = linear head).</summary>
    public int HeadHidden { get; }

    /// <summary>The trunk.</summary>
    public CausalTransformer Transformer => transformer;

    /// <summary>Copies the trunk weights of a policy (value model initialised from the SFT policy). Architectures must match.</summary>
    public void LoadTrunkFrom(CausalLm policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        if (policy.Config with { TieEmbeddings = false } != Config with { TieEmbeddings = false })
            throw new ArgumentException($"CausalScoreModel.LoadTrunkFrom: architectures differ (policy {policy.Config}, this {Config}).");
        using var _ = torch.no_grad();
        var src = policy.Transformer.state_dict();
        foreach (var (name, p) in transformer.named_parameters()) p.copy_(src[name]);
    }

    /// <summary>Per-row scores (B) at the last real token of ids (B, T) without padding.</summary>
    public override Tensor forward(Tensor inputIds) => Score(inputIds);

    /// <summary>
    /// Scores: (B) for <see cref="ScoreReduction.LastToken"/> and <see cref="ScoreReduction.MeanPool"/>, (B, T) for
    /// <see cref="ScoreReduction.PerPosition"/>.
    /// </summary>
    public Tensor Score(Tensor? inputIds = null, Tensor? attentionMask = null, ScoreReduction reduction = ScoreReduction.LastToken,
        Tensor? inputsEmbeds = null)
    {
        using var scope = torch.NewDisposeScope();
        using var o = transformer.Run(inputIds, inputsEmbeds, attentionMask);
        var perPos = score.call(o.LastHidden).squeeze(-1);                                 // (B, T)
        long t = perPos.shape[1];
        Tensor result;
        switch (reduction)
        {
            case ScoreReduction.PerPosition:
                result = attentionMask is null ? perPos : perPos * attentionMask.to_type(perPos.dtype);
                break;
            case ScoreReduction.LastToken:
                {
                    Tensor last;
                    if (attentionMask is null)
                        last = ScalarOps.Full(new[] { perPos.shape[0] }, t - 1, ScalarType.Int64, perPos.device);
                    else
                    {
                        var ar = ScalarOps.Arange(t, ScalarType.Int64, perPos.device).unsqueeze(0);
                        last = (attentionMask.to_type(ScalarType.Int64) * ar).max(1).values;   // last real index, either side
                    }
                    result = perPos.gather(1, last.unsqueeze(1)).squeeze(1);
                    break;
                }
            case ScoreReduction.MeanPool:
                {
                    var m = attentionMask is null ? torch.ones_like(perPos) : attentionMask.to_type(perPos.dtype);
                    var pooled = (o.LastHidden * m.unsqueeze(-1)).sum(1) / m.sum(1, keepdim: true).clamp_min(LmScalars.One);
                    result = score.call(pooled).squeeze(-1);
                    break;
                }
            default:
                throw new ArgumentOutOfRangeException(nameof(reduction), reduction, "CausalScoreModel.Score: unknown reduction.");
        }
        return result.MoveToOuterDisposeScope();
    }
}

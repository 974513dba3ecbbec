using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Slab;

/// <summary>Norm of the causal language model's norm slots.</summary>
public enum LmNormKind
{
    /// <summary>RMSNorm (the LLaMA baseline; cannot be folded).</summary>
    RmsNorm,
    /// <summary>Progressive RMSNorm→RepBN (the paper's LLaMA-350M + PRepBN; foldable).</summary>
    PRepBN,
}

/// <summary>Attention of the causal language model.</summary>
public enum LmAttentionKind
{
    /// <summary>Causal softmax attention with RoPE (the official LLaMA experiment).</summary>
    SoftmaxRope,
    /// <summary>Causal simplified linear attention (extension; see <see cref="CausalSimplifiedLinearAttention"/>).</summary>
    Sla,
}

/// <summary>Configuration of <see cref="SlabCausalLM"/> (HF LLaMA config names in brackets).</summary>
public sealed record SlabCausalLMConfig
{
    /// <summary>Model name.</summary>
    public string Name { get; init; } = "llama_350m_prepbn";
    /// <summary>Vocabulary size [vocab_size].</summary>
    public int VocabSize { get; init; } = 32000;
    /// <summary>Hidden size [hidden_size].</summary>
    public int HiddenSize { get; init; } = 1024;
    /// <summary>MLP width [intermediate_size].</summary>
    public int IntermediateSize { get; init; } = 4096;
    /// <summary>Decoder layers [num_hidden_layers].</summary>
    public int NumLayers { get; init; } = 18;
    /// <summary>Heads [num_attention_heads].</summary>
    public int NumHeads { get; init; } = 8;
    /// <summary>Longest sequence [max_position_embeddings]; sizes the SLA positional term.</summary>
    public int MaxPositions { get; init; } = 2048;
    /// <summary>Norm eps [rms_norm_eps], also the RepBN BN eps as in the official code.</summary>
    public double RmsNormEps { get; init; } = 1e-6;
    /// <summary>Norm kind.</summary>
    public LmNormKind Norm { get; init; } = LmNormKind.PRepBN;
    /// <summary>PRepBN schedule (official: 10 000 warm-up + 18 000 decay steps, counted per 16 forwards).</summary>
    public PRepBNOptions PRepBN { get; init; } = PRepBNOptions.Llama;
    /// <summary>Attention kind (official LLaMA experiment: softmax + RoPE).</summary>
    public LmAttentionKind Attention { get; init; } = LmAttentionKind.SoftmaxRope;
    /// <summary>Causal SLA depthwise-conv kernel.</summary>
    public int KernelSize { get; init; } = 5;
    /// <summary>Causal SLA scan chunk length.</summary>
    public int ChunkSize { get; init; } = 64;
    /// <summary>RoPE base.</summary>
    public double RopeTheta { get; init; } = 10000.0;

    /// <summary>The official LLaMA-350M + PRepBN (llama/modeling/llama-350M/config.json).</summary>
    public static SlabCausalLMConfig Llama350MPRepBN => new();

    internal nn.Module<Tensor, Tensor> MakeNorm() => Norm switch
    {
        LmNormKind.RmsNorm => new RmsNorm(HiddenSize, RmsNormEps),
        LmNormKind.PRepBN => new PRepBN(HiddenSize, PRepBN with { Start = PRepBNStart.RmsNorm, NormEps = RmsNormEps, BnEps = RmsNormEps }),
        _ => throw new ArgumentOutOfRangeException(nameof(Norm)),
    };
}

/// <summary>
/// Decoder layer of the SLAB language model (official <c>LlamaDecoderLayer</c> with <c>LinearNorm</c>):
/// x + attn(input_layernorm(x)), then x + mlp(post_attention_layernorm(x)); attention is causal SLA or softmax+RoPE.
/// Keys <c>input_layernorm.*</c>, <c>self_attn.*</c>, <c>post_attention_layernorm.*</c>, <c>mlp.*</c>.
/// </summary>
/// <remarks>
/// Causality: in eval (and after folding) every norm is a per-token affine map, so output i depends only on tokens
/// ≤ i. In training the RepBN branch's batch statistics span all positions of the batch, a mild leak the official
/// code accepts (method note §3.1).
/// </remarks>
public sealed class SlabCausalBlock : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> self_attn;
    private readonly SwiGluMlp mlp;
    private nn.Module<Tensor, Tensor> input_layernorm;
    private nn.Module<Tensor, Tensor> post_attention_layernorm;

    /// <summary>Creates one decoder layer.</summary>
    public SlabCausalBlock(SlabCausalLMConfig c) : base(nameof(SlabCausalBlock))
    {
        self_attn = c.Attention == LmAttentionKind.Sla
            ? new CausalSimplifiedLinearAttention(c.HiddenSize, c.NumHeads, c.MaxPositions, c.KernelSize, bias: false, c.ChunkSize)
            : new RotaryCausalAttention(c.HiddenSize, c.NumHeads, c.RopeTheta);
        mlp = new SwiGluMlp(c.HiddenSize, c.IntermediateSize);
        input_layernorm = c.MakeNorm();
        post_attention_layernorm = c.MakeNorm();
        RegisterComponents();
    }

    /// <summary>Hidden states (B, T, C) → (B, T, C).</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var y = x.Plus(self_attn.call(input_layernorm.call(x)));
        y = y.Plus(mlp.call(post_attention_layernorm.call(y)));
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>Folds input_layernorm into q/k/v_proj and post_attention_layernorm into gate/up_proj (official <c>merge_bn</c>).</summary>
    internal void FoldNorms()
    {
        var (q, k, v) = self_attn switch
        {
            CausalSimplifiedLinearAttention s => (s.QProj, s.KProj, s.VProj),
            RotaryCausalAttention r => (r.QProj, r.KProj, r.VProj),
            _ => throw new InvalidOperationException(),
        };
        NormFolding.IntoFollowingLinears(input_layernorm, "input_layernorm", q, k, v);
        NormFolding.IntoFollowingLinears(post_attention_layernorm, "post_attention_layernorm", mlp.GateProj, mlp.UpProj);
        input_layernorm = SlabInit.ReplaceWithIdentity(this, "input_layernorm");
        post_attention_layernorm = SlabInit.ReplaceWithIdentity(this, "post_attention_layernorm");
    }
}

/// <summary>The decoder stack (HF <c>LlamaModel</c>): <c>embed_tokens</c>, <c>layers.i</c>, <c>norm</c>.</summary>
public sealed class SlabCausalDecoder : nn.Module<Tensor, Tensor>
{
    private readonly Embedding embed_tokens;
    private readonly ModuleList<SlabCausalBlock> layers;
    private nn.Module<Tensor, Tensor> norm;

    internal SlabCausalDecoder(SlabCausalLMConfig c) : base(nameof(SlabCausalDecoder))
    {
        embed_tokens = nn.Embedding(c.VocabSize, c.HiddenSize);
        layers = new ModuleList<SlabCausalBlock>();
        for (int i = 0; i < c.NumLayers; i++) layers.Add(new SlabCausalBlock(c));
        norm = c.MakeNorm();
        RegisterComponents();
    }

    internal nn.Module<Tensor, Tensor> Norm => norm;

    /// <summary>Token ids (B, T) → final hidden states (B, T, C).</summary>
    public override Tensor forward(Tensor ids) => Forward(ids, null);

    /// <summary>As <see cref="forward"/>; <paramref name="padMask"/> (B, T; 1 = real token) keeps pads out of the final norm's BN statistics in training (official).</summary>
    public Tensor Forward(Tensor ids, Tensor? padMask)
    {
        using var scope = torch.NewDisposeScope();
        var t = embed_tokens.call(ids);
        foreach (var l in layers) t = l.call(t);
        t = norm is PRepBN p ? p.forward(t, padMask) : norm.call(t);
        return t.MoveToOuterDisposeScope();
    }

    internal void FoldNorms(Linear lmHead)
    {
        foreach (var l in layers) l.FoldNorms();
        // The official model keeps the final norm as an eval-mode RepBN; folding it into lm_head is exact.
        NormFolding.IntoFollowingLinears(norm, "model.norm", lmHead);
        norm = SlabInit.ReplaceWithIdentity(this, "norm");
    }
}

/// <summary>
/// Causal language model with PRepBN norms and causal SLA or softmax+RoPE attention — the paper's LLaMA
/// experiment (LLaMA-350M + PRepBN) with an optional SLA variant. Keys follow HF LLaMA: <c>model.embed_tokens</c>,
/// <c>model.layers.i.*</c>, <c>model.norm.*</c>, <c>lm_head</c>. Input ids (B, T) int64 → logits (B, T, vocab).
/// </summary>
public sealed class SlabCausalLM : nn.Module<Tensor, Tensor>
{
    private readonly SlabCausalDecoder model;
    private readonly Linear lm_head;

    /// <summary>Builds the model (LLaMA init: Linear and Embedding weights ~ N(0, 0.02²)).</summary>
    public SlabCausalLM(SlabCausalLMConfig config) : base(nameof(SlabCausalLM))
    {
        Config = config ?? throw new ArgumentNullException(nameof(config));
        if (config.VocabSize <= 0 || config.HiddenSize <= 0 || config.NumLayers <= 0)
            throw new ArgumentException("SlabCausalLMConfig: VocabSize, HiddenSize and NumLayers must be positive.");
        model = new SlabCausalDecoder(config);
        lm_head = nn.Linear(config.HiddenSize, config.VocabSize, hasBias: false);
        RegisterComponents();
        using var _ = torch.no_grad();
        foreach (var m in modules())
        {
            if (m is Linear l) { nn.init.normal_(l.weight!, 0, 0.02); l.bias?.zero_(); }
            else if (m is Embedding e) nn.init.normal_(e.weight!, 0, 0.02);
        }
    }

    /// <summary>The configuration.</summary>
    public SlabCausalLMConfig Config { get; }

    /// <summary>True after <see cref="SwitchToDeploy"/>.</summary>
    public bool IsDeployed { get; private set; }

    /// <summary>Logits (B, T, vocab) for token ids (B, T).</summary>
    public override Tensor forward(Tensor ids) => Forward(ids, null);

    /// <summary>Logits; <paramref name="padMask"/> (B, T; 1 = real token) as in <see cref="SlabCausalDecoder.Forward"/>.</summary>
    public Tensor Forward(Tensor ids, Tensor? padMask)
    {
        if (ids.dim() != 2 || ids.dtype != ScalarType.Int64)
            throw new ArgumentException($"SlabCausalLM: expected int64 token ids of shape (B, T), got {ids.dtype} ({string.Join(", ", ids.shape)}).");
        using var h = model.Forward(ids, padMask);
        return lm_head.call(h);
    }

    /// <summary>Advances the PRepBN schedule of every norm by one training step (call after each optimizer step).</summary>
    public void StepNormSchedule() => PRepBN.StepAll(this);

    /// <summary>
    /// Folds every norm into the following projections (q/k/v_proj, gate/up_proj, lm_head; they gain biases) and removes
    /// it, as the official <c>LlamaDecoderLayer.merge_bn</c>. Throws for RMSNorm models.
    /// </summary>
    public SlabCausalLM SwitchToDeploy()
    {
        if (IsDeployed) return this;
        if (Config.Norm == LmNormKind.RmsNorm)
            throw new InvalidOperationException("SwitchToDeploy: RMSNorm computes statistics per token at run time and cannot be folded; use LmNormKind.PRepBN.");
        model.FoldNorms(lm_head);
        IsDeployed = true;
        eval();
        return this;
    }
}

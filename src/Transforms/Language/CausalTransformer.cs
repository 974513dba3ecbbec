using MLNetExtensions.Core.Torch;
using MLNetExtensions.Transforms.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Language;

/// <summary>
/// The outputs of a causal transformer forward. Owns its tensors: dispose it (or move what you keep out of it and
/// dispose the rest). Tensors created inside an enclosing dispose scope also belong to that scope.
/// </summary>
public sealed class CausalLmOutput : IDisposable
{
    internal CausalLmOutput(Tensor? logits, Tensor lastHidden, IReadOnlyList<Tensor>? hiddenStates, IReadOnlyList<Tensor?>? attentions)
    {
        Logits = logits; LastHidden = lastHidden; HiddenStates = hiddenStates; Attentions = attentions;
    }

    /// <summary>(B, T, V) next-token logits; null for a trunk-only forward.</summary>
    public Tensor? Logits { get; }

    /// <summary>(B, T, D) final hidden states after the final LayerNorm.</summary>
    public Tensor LastHidden { get; }

    /// <summary>
    /// On request, L + 1 tensors (B, T, D): [0] token embeddings + positions (after embedding dropout), [l + 1] the
    /// output of block l (before the final LayerNorm).
    /// </summary>
    public IReadOnlyList<Tensor>? HiddenStates { get; }

    /// <summary>
    /// On request, one entry per layer: (B, H, T, T) post-softmax attention probabilities (query = dim −2, key = dim −1,
    /// causal and padding masks applied, float32) for the requested layers, null for the others.
    /// </summary>
    public IReadOnlyList<Tensor?>? Attentions { get; }

    /// <inheritdoc/>
    public void Dispose()
    {
        Logits?.Dispose();
        LastHidden.Dispose();
        if (HiddenStates is not null) foreach (var h in HiddenStates) h.Dispose();
        if (Attentions is not null) foreach (var a in Attentions) a?.Dispose();
    }
}

/// <summary>
/// One pre-LN GPT-2-like block: x + attn(ln_1(x)), then x + mlp(ln_2(x)). Attention is the suite's
/// <see cref="SoftmaxAttention"/> (explicit softmax, so probabilities are available) with a causal/padding mask; the
/// MLP is the suite's <see cref="Mlp"/> (fc1 → GELU → fc2). Keys <c>ln_1</c>, <c>attn.qkv</c>, <c>attn.proj</c>,
/// <c>ln_2</c>, <c>mlp.fc1</c>, <c>mlp.fc2</c>.
/// </summary>
public sealed class CausalLmBlock : nn.Module<Tensor, Tensor>
{
    private readonly LayerNorm ln_1;
    private readonly SoftmaxAttention attn;
    private readonly LayerNorm ln_2;
    private readonly Mlp mlp;

    /// <summary>Creates a block for the given architecture.</summary>
    public CausalLmBlock(CausalLmConfig config) : base(nameof(CausalLmBlock))
    {
        ln_1 = nn.LayerNorm(config.DModel, config.LayerNormEps);
        attn = new SoftmaxAttention(config.DModel, config.Heads, qkvBias: true, attnDrop: config.Dropout, projDrop: config.Dropout);
        ln_2 = nn.LayerNorm(config.DModel, config.LayerNormEps);
        mlp = new Mlp(config.DModel, config.FfnDim, drop: config.Dropout);
        RegisterComponents();
    }

    /// <summary>The block's attention.</summary>
    public SoftmaxAttention Attention => attn;

    /// <summary>Causal forward without padding.</summary>
    public override Tensor forward(Tensor x)
    {
        using var blocked = CausalMask.Blocked(x.shape[1], null, x.device);
        return Forward(x, blocked, false).Hidden;
    }

    /// <summary>Forward with a (B|1, 1, T, T) blocked mask (true = not visible); optionally returns the attention probabilities.</summary>
    public (Tensor Hidden, Tensor? Attention) Forward(Tensor x, Tensor blocked, bool returnAttention)
    {
        using var scope = torch.NewDisposeScope();
        var (a, probs) = attn.Attend(ln_1.call(x), blocked, returnAttention);
        var h = x.Plus(a);
        var o = h.Plus(mlp.call(ln_2.call(h)));
        return (o.MoveToOuterDisposeScope(), probs?.MoveToOuterDisposeScope());
    }
}

/// <summary>Causal/padding mask construction shared by the language models.</summary>
public static class CausalMask
{
    /// <summary>
    /// The "blocked" mask (true = key j is not visible to query i), shape (B, 1, T, T) or (1, 1, T, T) without
    /// padding: future keys and padded keys are blocked. A query that would see no key at all (a pad position
    /// before the first real token, under left padding) is allowed its own position so its softmax row stays a
    /// distribution; such rows belong to padding and must be excluded from losses.
    /// </summary>
    public static Tensor Blocked(long t, Tensor? attentionMask, Device device) => Blocked(t, attentionMask, device, causal: true);

    /// <summary>
    /// As <see cref="Blocked(long, Tensor?, Device)"/>; <paramref name="causal"/> false blocks padded keys only (a
    /// bidirectional encoder, e.g. a Longformer-like reward model reading the whole sequence).
    /// </summary>
    public static Tensor Blocked(long t, Tensor? attentionMask, Device device, bool causal)
    {
        using var scope = torch.NewDisposeScope();
        var future = causal ? torch.ones(t, t, ScalarType.Bool, device).triu(1) : torch.zeros(t, t, ScalarType.Bool, device);
        if (attentionMask is null) return future.unsqueeze(0).unsqueeze(0).MoveToOuterDisposeScope();
        var valid = attentionMask.to_type(ScalarType.Bool);
        var padKey = valid.logical_not().unsqueeze(1).unsqueeze(1);            // (B, 1, 1, T)
        var blocked = future.unsqueeze(0).unsqueeze(0).logical_or(padKey);    // (B, 1, T, T)
        var eye = torch.eye(t, t, ScalarType.Bool, device).unsqueeze(0).unsqueeze(0);
        return blocked.logical_and(eye.logical_not()).MoveToOuterDisposeScope();
    }

    /// <summary>Position ids (B, T): 0, 1, … counted over real tokens only (pads before the first real token get 0).</summary>
    public static Tensor PositionIds(Tensor attentionMask)
    {
        using var scope = torch.NewDisposeScope();
        var ones = attentionMask.to_type(ScalarType.Int64);
        return ones.cumsum(1).sub(LmScalars.One).clamp_min(LmScalars.Zero).MoveToOuterDisposeScope();
    }
}

/// <summary>Scalars held for the process so hot paths pass no temporary <see cref="Scalar"/> into LibTorch.</summary>
internal static class LmScalars
{
    public static readonly Scalar Zero = 0L;
    public static readonly Scalar One = 1L;
    public static readonly Scalar NegInf = float.NegativeInfinity;
    public static readonly Scalar FloatZero = 0.0f;
}

/// <summary>
/// The decoder-only trunk shared by <see cref="CausalLm"/> and <see cref="CausalScoreModel"/>: token embedding
/// <c>wte</c>, learned positions <c>wpe</c>, blocks <c>h.{i}</c>, final LayerNorm <c>ln_f</c> (GPT-2 key names).
/// The forward takes token ids or input embeddings (so a VLM can splice projected image tokens in place of
/// placeholders) and an optional (B, T) attention mask (1 = real token, 0 = pad; either padding side).
/// </summary>
public sealed class CausalTransformer : nn.Module<Tensor, Tensor>
{
    private readonly Embedding wte;
    private readonly Embedding wpe;
    private readonly Dropout drop;
    private readonly ModuleList<CausalLmBlock> h;
    private readonly LayerNorm ln_f;

    /// <summary>Creates the trunk (weights: GPT-2 initialisation, N(0, 0.02), residual projections / √(2L)).</summary>
    public CausalTransformer(CausalLmConfig config) : base(nameof(CausalTransformer))
    {
        config.Validate();
        Config = config;
        wte = nn.Embedding(config.VocabSize, config.DModel);
        wpe = nn.Embedding(config.MaxPositions, config.DModel);
        drop = nn.Dropout(config.Dropout);
        h = new ModuleList<CausalLmBlock>(Enumerable.Range(0, config.Layers).Select(_ => new CausalLmBlock(config)).ToArray());
        ln_f = nn.LayerNorm(config.DModel, config.LayerNormEps);
        RegisterComponents();
        InitGpt2(this, config.Layers);
    }

    /// <summary>The architecture.</summary>
    public CausalLmConfig Config { get; }

    /// <summary>The token embedding (its weight is the tied LM head).</summary>
    public Embedding TokenEmbedding => wte;

    /// <summary>The blocks in order.</summary>
    public IReadOnlyList<CausalLmBlock> Blocks => h.ToArray();

    /// <summary>Token embeddings (B, T, D) of ids (B, T), without positions: the input-embedding path's input.</summary>
    public Tensor EmbedTokens(Tensor inputIds)
    {
        CheckIds(inputIds);
        return wte.call(inputIds);
    }

    /// <summary>Final hidden states (B, T, D) of token ids without padding.</summary>
    public override Tensor forward(Tensor inputIds)
    {
        using var o = Run(inputIds);
        return o.LastHidden.alias();
    }

    /// <summary>
    /// The forward. Give exactly one of <paramref name="inputIds"/> (B, T) int64 and <paramref name="inputsEmbeds"/>
    /// (B, T, D); positions are added here. <paramref name="attentionMask"/> (B, T): 1 real, 0 pad; positions count
    /// real tokens only, so a left-padded row gives the same outputs at its real positions as the unpadded row.
    /// <paramref name="attentionLayers"/> names the layers whose attention probabilities are returned (e.g. [0]).
    /// <paramref name="causal"/> false lets every position attend to every real token (an encoder over the same
    /// weights, used by the bidirectional reward models); default true.
    /// </summary>
    public CausalLmOutput Run(Tensor? inputIds = null, Tensor? inputsEmbeds = null, Tensor? attentionMask = null,
        bool returnHiddenStates = false, IReadOnlyCollection<int>? attentionLayers = null, bool causal = true)
    {
        if ((inputIds is null) == (inputsEmbeds is null))
            throw new ArgumentException("CausalTransformer.Run: give exactly one of inputIds and inputsEmbeds.");
        Tensor x0;
        using var scope = torch.NewDisposeScope();
        if (inputIds is not null)
        {
            x0 = EmbedTokens(inputIds);
        }
        else
        {
            var e = inputsEmbeds!;
            if (e.dim() != 3 || e.shape[2] != Config.DModel)
                throw new ArgumentException($"CausalTransformer.Run: inputsEmbeds must be (B, T, {Config.DModel}), got ({string.Join(", ", e.shape)}).");
            x0 = e;
        }
        long b = x0.shape[0], t = x0.shape[1];
        if (t < 1) throw new ArgumentException("CausalTransformer.Run: the sequence is empty.");
        if (t > Config.MaxPositions)
            throw new ArgumentException($"CausalTransformer.Run: sequence length {t} exceeds MaxPositions ({Config.MaxPositions}).");
        if (attentionMask is not null && (attentionMask.dim() != 2 || attentionMask.shape[0] != b || attentionMask.shape[1] != t))
            throw new ArgumentException($"CausalTransformer.Run: attentionMask must be ({b}, {t}), got ({string.Join(", ", attentionMask.shape)}).");
        if (attentionLayers is not null)
            foreach (var l in attentionLayers)
                if (l < 0 || l >= Config.Layers)
                    throw new ArgumentOutOfRangeException(nameof(attentionLayers), l, $"CausalTransformer.Run: layer {l} does not exist (0..{Config.Layers - 1}).");

        var pos = attentionMask is null
            ? ScalarOps.Arange(t, ScalarType.Int64, x0.device).unsqueeze(0)
            : CausalMask.PositionIds(attentionMask);
        var x = drop.call(x0.Plus(wpe.call(pos)));
        var blocked = CausalMask.Blocked(t, attentionMask, x.device, causal);
        var hidden = returnHiddenStates ? new List<Tensor> { x } : null;
        var attentions = attentionLayers is null ? null : new Tensor?[Config.Layers];
        for (int l = 0; l < h.Count; l++)
        {
            bool want = attentionLayers is not null && attentionLayers.Contains(l);
            var (y, a) = h[l].Forward(x, blocked, want);
            if (want) attentions![l] = a;
            x = y;
            hidden?.Add(x);
        }
        var last = ln_f.call(x);
        last.MoveToOuterDisposeScope();
        if (hidden is not null) foreach (var hs in hidden) hs.MoveToOuterDisposeScope();
        if (attentions is not null) foreach (var a in attentions) a?.MoveToOuterDisposeScope();
        // An input tensor may be returned as a hidden state (never here: x0 + positions is fresh), so no aliasing issue.
        return new CausalLmOutput(null, last, hidden, attentions);
    }

    private void CheckIds(Tensor ids)
    {
        if (ids.dim() != 2)
            throw new ArgumentException($"CausalTransformer: inputIds must be (B, T), got a {ids.dim()}-D tensor ({string.Join(", ", ids.shape)}).");
        if (ids.dtype != ScalarType.Int64)
            throw new ArgumentException($"CausalTransformer: inputIds must be int64, got {ids.dtype}.");
        if (ids.numel() == 0) return;
        long min = ids.min().item<long>(), max = ids.max().item<long>();
        if (min < 0 || max >= Config.VocabSize)
            throw new ArgumentOutOfRangeException(nameof(ids), $"CausalTransformer: token ids must be in [0, {Config.VocabSize}), got range [{min}, {max}].");
    }

    /// <summary>GPT-2 initialisation of every Linear/Embedding weight below <paramref name="root"/>.</summary>
    internal static void InitGpt2(nn.Module root, int layers)
    {
        using var _ = torch.no_grad();
        double residual = 0.02 / Math.Sqrt(2.0 * layers);
        foreach (var (name, p) in root.named_parameters())
        {
            if (name.Contains("ln_")) continue; // LayerNorm: ones / zeros already
            if (name.EndsWith("bias")) { p.zero_(); continue; }
            double std = name.EndsWith("attn.proj.weight") || name.EndsWith("mlp.fc2.weight") ? residual : 0.02;
            p.normal_(0.0, std);
        }
    }
}

using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Slab;

/// <summary>
/// LLaMA causal softmax self-attention with rotary position embedding (HF 4.28 <c>LlamaAttention</c>, the attention
/// of the paper's LLaMA-350M experiment). Keys <c>q_proj</c>, <c>k_proj</c>, <c>v_proj</c>, <c>o_proj</c>,
/// <c>rotary_emb.inv_freq</c>.
/// </summary>
public sealed class RotaryCausalAttention : nn.Module<Tensor, Tensor>
{
    private readonly Linear q_proj;
    private readonly Linear k_proj;
    private readonly Linear v_proj;
    private readonly Linear o_proj;
    private readonly RotaryEmbedding rotary_emb;

    /// <summary>Creates the attention for hidden size <paramref name="dim"/>.</summary>
    public RotaryCausalAttention(long dim, long numHeads, double ropeBase = 10000.0) : base(nameof(RotaryCausalAttention))
    {
        if (numHeads <= 0 || dim % numHeads != 0)
            throw new ArgumentException($"RotaryCausalAttention: dim ({dim}) must be divisible by num_heads ({numHeads}).");
        Dim = dim; NumHeads = numHeads; HeadDim = dim / numHeads;
        q_proj = nn.Linear(dim, dim, hasBias: false);
        k_proj = nn.Linear(dim, dim, hasBias: false);
        v_proj = nn.Linear(dim, dim, hasBias: false);
        o_proj = nn.Linear(dim, dim, hasBias: false);
        rotary_emb = new RotaryEmbedding(HeadDim, ropeBase);
        RegisterComponents();
    }

    /// <summary>Hidden size.</summary>
    public long Dim { get; }
    /// <summary>Heads.</summary>
    public long NumHeads { get; }
    /// <summary>Head dimension.</summary>
    public long HeadDim { get; }
    /// <summary>Query projection.</summary>
    public Linear QProj => q_proj;
    /// <summary>Key projection.</summary>
    public Linear KProj => k_proj;
    /// <summary>Value projection.</summary>
    public Linear VProj => v_proj;

    /// <summary>Causal attention over x (B, T, C) at positions 0..T−1.</summary>
    public override Tensor forward(Tensor x)
    {
        TokenShape.Check(x, Dim, nameof(RotaryCausalAttention));
        using var scope = torch.NewDisposeScope();
        long b = x.shape[0], t = x.shape[1], h = NumHeads, d = HeadDim;
        Tensor Heads(Tensor z) => z.view(b, t, h, d).transpose(1, 2);
        var q = Heads(q_proj.call(x));
        var k = Heads(k_proj.call(x));
        var v = Heads(v_proj.call(x));
        var (cos, sin) = rotary_emb.CosSin(t);
        q = (q * cos).Plus(RotateHalf(q) * sin);
        k = (k * cos).Plus(RotateHalf(k) * sin);
        var scores = torch.matmul(q, k.transpose(2, 3)).Over(Math.Sqrt(d));
        var future = torch.ones(t, t, ScalarType.Bool, x.device).triu(1);
        scores = scores.MaskedFill(future, float.MinValue);
        var attn = scores.softmax(-1, ScalarType.Float32).to(q.dtype);
        var o = torch.matmul(attn, v).transpose(1, 2).reshape(b, t, Dim);
        return o_proj.call(o).MoveToOuterDisposeScope();
    }

    private static Tensor RotateHalf(Tensor x)
    {
        long half = x.shape[^1] / 2;
        return torch.cat(new[] { -x.narrow(-1, half, half), x.narrow(-1, 0, half) }, -1);
    }
}

/// <summary>LLaMA rotary embedding: persistent buffer <c>inv_freq</c> = 1/base^(2i/d); cos/sin tables built on demand.</summary>
public sealed class RotaryEmbedding : nn.Module
{
    private readonly Tensor inv_freq;

    /// <summary>Creates the embedding for head dimension <paramref name="dim"/>.</summary>
    public RotaryEmbedding(long dim, double ropeBase = 10000.0) : base(nameof(RotaryEmbedding))
    {
        using var exps = ScalarOps.Arange(0, dim, 2, ScalarType.Float32).Over(dim);
        inv_freq = torch.pow(ropeBase, exps).reciprocal();
        RegisterComponents();
    }

    /// <summary>cos and sin of shape (1, 1, T, d) for positions 0..T−1 (the halves repeated as in HF).</summary>
    public (Tensor cos, Tensor sin) CosSin(long t)
    {
        using var scope = torch.NewDisposeScope();
        var pos = ScalarOps.Arange(t, ScalarType.Float32, inv_freq.device);
        var freqs = torch.outer(pos, inv_freq);
        var emb = torch.cat(new[] { freqs, freqs }, -1).unsqueeze(0).unsqueeze(0);
        return (emb.cos().MoveToOuterDisposeScope(), emb.sin().MoveToOuterDisposeScope());
    }
}

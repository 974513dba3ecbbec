using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Slab;

/// <summary>
/// Causal Simplified Linear Attention for language models. <b>An extension, not in the SLAB paper or code</b>
/// (the official LLaMA experiment keeps softmax attention): SLA with prefix sums,
/// o_i = q̃_i·Σ_{j≤i} k̃_jᵀv_j / (q̃_i·Σ_{j≤i} k̃_j + 1e-6), computed chunk-wise (masked quadratic form inside a
/// chunk, prefix states across chunks, no per-token loop), plus a causal depthwise 1-D conv of V
/// (left padding k−1) in place of SLA's 2-D DWC, and an optional learned positional term on K for up to
/// <c>maxPositions</c> tokens. Projections use LLaMA names: <c>q_proj</c>, <c>k_proj</c>, <c>v_proj</c>, <c>o_proj</c>;
/// plus <c>dwc.*</c> (d, 1, k) and <c>positional_encoding</c> (1, maxPositions, C).
/// </summary>
public sealed class CausalSimplifiedLinearAttention : nn.Module<Tensor, Tensor>
{
    private readonly Linear q_proj;
    private readonly Linear k_proj;
    private readonly Linear v_proj;
    private readonly Linear o_proj;
    private readonly Conv1d dwc;
    private readonly Parameter? positional_encoding;

    /// <summary>Creates the attention.</summary>
    /// <param name="dim">Hidden size C.</param>
    /// <param name="numHeads">Heads; C must be divisible by it.</param>
    /// <param name="maxPositions">Longest sequence (size of the positional term; 0 disables the term and the limit).</param>
    /// <param name="kernelSize">Causal depthwise-conv kernel.</param>
    /// <param name="bias">Bias on the projections (LLaMA: none).</param>
    /// <param name="chunkSize">Chunk length of the prefix-sum scan.</param>
    public CausalSimplifiedLinearAttention(long dim, long numHeads, long maxPositions = 2048, long kernelSize = 5,
        bool bias = false, int chunkSize = 64) : base(nameof(CausalSimplifiedLinearAttention))
    {
        if (numHeads <= 0 || dim % numHeads != 0)
            throw new ArgumentException($"CausalSimplifiedLinearAttention: dim ({dim}) must be divisible by num_heads ({numHeads}).");
        if (chunkSize <= 0) throw new ArgumentOutOfRangeException(nameof(chunkSize), "Chunk size must be positive.");
        Dim = dim; NumHeads = numHeads; HeadDim = dim / numHeads; MaxPositions = maxPositions; ChunkSize = chunkSize;
        KernelSize = kernelSize;
        q_proj = nn.Linear(dim, dim, hasBias: bias);
        k_proj = nn.Linear(dim, dim, hasBias: bias);
        v_proj = nn.Linear(dim, dim, hasBias: bias);
        o_proj = nn.Linear(dim, dim, hasBias: bias);
        dwc = nn.Conv1d(HeadDim, HeadDim, kernelSize, groups: HeadDim);
        positional_encoding = maxPositions > 0 ? nn.Parameter(torch.zeros(1, maxPositions, dim)) : null;
        RegisterComponents();
    }

    /// <summary>Hidden size.</summary>
    public long Dim { get; }
    /// <summary>Heads.</summary>
    public long NumHeads { get; }
    /// <summary>Head dimension.</summary>
    public long HeadDim { get; }
    /// <summary>Longest supported sequence (0: unlimited, no positional term).</summary>
    public long MaxPositions { get; }
    /// <summary>Scan chunk length.</summary>
    public int ChunkSize { get; }
    /// <summary>Causal DWC kernel.</summary>
    public long KernelSize { get; }
    /// <summary>Query projection.</summary>
    public Linear QProj => q_proj;
    /// <summary>Key projection.</summary>
    public Linear KProj => k_proj;
    /// <summary>Value projection.</summary>
    public Linear VProj => v_proj;

    /// <summary>Causal attention over x (B, T, C); output i depends only on tokens ≤ i.</summary>
    public override Tensor forward(Tensor x)
    {
        TokenShape.Check(x, Dim, nameof(CausalSimplifiedLinearAttention));
        long b = x.shape[0], t = x.shape[1], h = NumHeads, d = HeadDim;
        if (MaxPositions > 0 && t > MaxPositions)
            throw new ArgumentException($"CausalSimplifiedLinearAttention: sequence length {t} exceeds MaxPositions = {MaxPositions}.");
        using var scope = torch.NewDisposeScope();
        var q = nn.functional.relu(q_proj.call(x));
        var kLin = k_proj.call(x);
        if (positional_encoding is not null) kLin = kLin.Plus(positional_encoding.narrow(1, 0, t));
        var k = nn.functional.relu(kLin);
        var v = v_proj.call(x);
        Tensor Heads(Tensor z) => z.reshape(b, t, h, d).permute(0, 2, 1, 3).reshape(b * h, t, d).to(float32);
        var vh = Heads(v);
        var o = ChunkedCausal(Heads(q), Heads(k), vh, ChunkSize);
        // Causal depthwise conv of raw V along time (left zero padding k−1), weights shared by all heads.
        var vt = nn.functional.pad(vh.transpose(1, 2), new long[] { KernelSize - 1, 0 });
        o = o.Plus(dwc.call(vt).transpose(1, 2));
        o = o.reshape(b, h, t, d).permute(0, 2, 1, 3).reshape(b, t, Dim).to(x.dtype);
        return o_proj.call(o).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Chunked causal linear attention for kernelised q̃, k̃ ≥ 0 and v, each (BH, T, d):
    /// o_i = (Σ_{j≤i} (q̃_i·k̃_j) v_j) / (Σ_{j≤i} q̃_i·k̃_j + 1e-6). Inside a chunk the masked quadratic form; across
    /// chunks exclusive prefix sums of the chunk states k̃ᵀv (d×d) and Σk̃. Cost O(T·(L + d)·d) for chunk L.
    /// </summary>
    public static Tensor ChunkedCausal(Tensor q, Tensor k, Tensor v, int chunkSize)
    {
        using var scope = torch.NewDisposeScope();
        long bh = q.shape[0], t = q.shape[1], d = q.shape[2], dv = v.shape[2];
        long L = Math.Min(chunkSize, t), nC = (t + L - 1) / L, pad = nC * L - t;
        if (pad > 0)
        {
            // Zero keys/values at the end add nothing to any prefix; their query rows are dropped below.
            q = nn.functional.pad(q, new long[] { 0, 0, 0, pad });
            k = nn.functional.pad(k, new long[] { 0, 0, 0, pad });
            v = nn.functional.pad(v, new long[] { 0, 0, 0, pad });
        }
        var qc = q.view(bh, nC, L, d);
        var kc = k.view(bh, nC, L, d);
        var vc = v.view(bh, nC, L, dv);
        var kv = torch.matmul(kc.transpose(-1, -2), vc);            // (BH, nC, d, dv) per-chunk state
        var ks = kc.sum(2);                                          // (BH, nC, d)
        // Exclusive prefix over chunks: state before chunk c.
        var kvPrev = torch.cat(new[] { torch.zeros_like(kv.narrow(1, 0, 1)), kv.cumsum(1).narrow(1, 0, nC - 1) }, 1);
        var ksPrev = torch.cat(new[] { torch.zeros_like(ks.narrow(1, 0, 1)), ks.cumsum(1).narrow(1, 0, nC - 1) }, 1);
        var mask = torch.ones(L, L, q.dtype, q.device).tril();
        var a = torch.matmul(qc, kc.transpose(-1, -2)) * mask;       // (BH, nC, L, L) causal within the chunk
        var num = torch.matmul(a, vc).Plus(torch.matmul(qc, kvPrev));
        var den = a.sum(-1).Plus(torch.matmul(qc, ksPrev.unsqueeze(-1)).squeeze(-1));
        var z = den.Plus(1e-6).reciprocal();
        var o = (num * z.unsqueeze(-1)).view(bh, nC * L, dv);
        if (pad > 0) o = o.narrow(1, 0, t);
        return o.MoveToOuterDisposeScope();
    }

    /// <summary>Reference O(T²) form of <see cref="ChunkedCausal"/>: (Q̃K̃ᵀ ⊙ lower-triangular) V, row-normalised.</summary>
    public static Tensor QuadraticCausal(Tensor q, Tensor k, Tensor v)
    {
        using var scope = torch.NewDisposeScope();
        long t = q.shape[1];
        var a = torch.matmul(q, k.transpose(-1, -2)) * torch.ones(t, t, q.dtype, q.device).tril();
        var z = a.sum(-1).Plus(1e-6).reciprocal();
        return (torch.matmul(a, v) * z.unsqueeze(-1)).MoveToOuterDisposeScope();
    }
}

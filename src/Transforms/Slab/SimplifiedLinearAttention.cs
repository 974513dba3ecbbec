using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Slab;

/// <summary>
/// Simplified Linear Attention (SLA; official <c>slab_swin.SimplifiedLinearAttention</c> / <c>slab_deit.Attention</c>)
/// over a grid of H×W tokens (a Swin window or a whole feature map).
/// Q̃ = ReLU(Q), K̃ = ReLU(K + P) with a learned positional term P on K only; no 1/√d scale, no softmax;
/// per head O = diag(z)·Q̃·(K̃ᵀV) with z_i = 1/(q̃_i·Σ_j k̃_j + 1e-6); plus a depthwise k×k conv of raw V on the
/// token grid (its d-channel weights shared by all heads); then the output projection.
/// Keys: <c>positional_encoding</c> (1, H·W, C), <c>qkv.*</c>, <c>proj.*</c>, <c>dwc.*</c> (d, 1, k, k).
/// </summary>
public sealed class SimplifiedLinearAttention : nn.Module<Tensor, Tensor>
{
    private readonly Linear qkv;
    private readonly Linear proj;
    private readonly Dropout proj_drop;
    private readonly Conv2d dwc;
    private readonly Parameter positional_encoding;

    /// <summary>Creates SLA for <paramref name="dim"/> channels on a <paramref name="gridH"/>×<paramref name="gridW"/> token grid.</summary>
    /// <param name="dim">Channels C.</param>
    /// <param name="numHeads">Heads H; C must be divisible by H.</param>
    /// <param name="gridH">Token rows (tokens are row-major on the grid).</param>
    /// <param name="gridW">Token columns.</param>
    /// <param name="qkvBias">Bias on the qkv projection (true in every SLAB config).</param>
    /// <param name="kernelSize">Depthwise-conv kernel size (5 in SLAB).</param>
    /// <param name="projDrop">Dropout after the output projection.</param>
    public SimplifiedLinearAttention(long dim, long numHeads, long gridH, long gridW, bool qkvBias = true,
        long kernelSize = 5, double projDrop = 0.0) : base(nameof(SimplifiedLinearAttention))
    {
        if (numHeads <= 0 || dim % numHeads != 0)
            throw new ArgumentException($"SLA: dim ({dim}) must be divisible by num_heads ({numHeads}).");
        if (gridH <= 0 || gridW <= 0) throw new ArgumentException("SLA: the token grid must be non-empty.");
        Dim = dim; NumHeads = numHeads; HeadDim = dim / numHeads; GridH = gridH; GridW = gridW;
        qkv = nn.Linear(dim, dim * 3, hasBias: qkvBias);
        proj = nn.Linear(dim, dim);
        proj_drop = nn.Dropout(projDrop);
        dwc = nn.Conv2d(HeadDim, HeadDim, kernelSize, groups: HeadDim, padding: kernelSize / 2);
        positional_encoding = nn.Parameter(torch.zeros(1, gridH * gridW, dim));
        RegisterComponents();
    }

    /// <summary>Channels C.</summary>
    public long Dim { get; }
    /// <summary>Heads.</summary>
    public long NumHeads { get; }
    /// <summary>Head dimension d = C / heads.</summary>
    public long HeadDim { get; }
    /// <summary>Token-grid rows.</summary>
    public long GridH { get; }
    /// <summary>Token-grid columns.</summary>
    public long GridW { get; }

    /// <summary>The qkv projection (a preceding norm folds into it).</summary>
    public Linear Qkv => qkv;
    /// <summary>The output projection.</summary>
    public Linear Proj => proj;

    /// <summary>Attends over x of shape (B, N, C) with N = gridH·gridW (B may include windows).</summary>
    public override Tensor forward(Tensor x)
    {
        TokenShape.Check(x, Dim, "SimplifiedLinearAttention");
        long n = GridH * GridW;
        if (x.shape[1] != n)
            throw new ArgumentException($"SimplifiedLinearAttention: expected N = {GridH}×{GridW} = {n} tokens (the positional term and the DWC grid are fixed), got {x.shape[1]}.");
        using var scope = torch.NewDisposeScope();
        long b = x.shape[0], h = NumHeads, d = HeadDim, c = Dim;
        var parts = qkv.call(x).reshape(b, n, 3, c).permute(2, 0, 1, 3).unbind(0);
        var q = nn.functional.relu(parts[0]);
        var k = nn.functional.relu(parts[1].Plus(positional_encoding));
        var v = parts[2];

        // "b n (h c) -> (b h) n c"; the core runs in float32 as the official code (z can reach ~1e6).
        Tensor Heads(Tensor t) => t.reshape(b, n, h, d).permute(0, 2, 1, 3).reshape(b * h, n, d).to(float32);
        q = Heads(q); k = Heads(k); v = Heads(v);

        var z = torch.bmm(q, k.sum(1).unsqueeze(-1)).squeeze(-1).Plus(1e-6).reciprocal(); // (BH, N)
        Tensor o;
        // Same FLOP test as the official code picks the cheaper of Q(KᵀV) and (QKᵀ)V; the results are equal up to rounding.
        if (n * n * 2 * d > d * d * 2 * n)
            o = torch.bmm(q, torch.bmm(k.transpose(1, 2), v));
        else
            o = torch.bmm(torch.bmm(q, k.transpose(1, 2)), v);
        o = o * z.unsqueeze(-1);

        // "b (w h) c -> b c w h": token t sits at row t / W, column t % W.
        var fm = v.reshape(b * h, GridH, GridW, d).permute(0, 3, 1, 2);
        var conv = dwc.call(fm).permute(0, 2, 3, 1).reshape(b * h, n, d);
        o = o.Plus(conv);

        o = o.reshape(b, h, n, d).permute(0, 2, 1, 3).reshape(b, n, c).to(x.dtype);
        var y = proj_drop.call(proj.call(o));
        return y.MoveToOuterDisposeScope();
    }
}

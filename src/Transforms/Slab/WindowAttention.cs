using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

using MLNetExtensions.Transforms.Layers;

namespace MLNetExtensions.Transforms.Slab;

/// <summary>
/// Swin window softmax attention with relative position bias (Swin <c>WindowAttention</c>, as used by the softmax
/// stages of SLAB-Swin). Keys: <c>relative_position_bias_table</c> ((2Wh−1)(2Ww−1), heads),
/// <c>relative_position_index</c> (int64 buffer), <c>qkv.*</c>, <c>proj.*</c>.
/// </summary>
public sealed class WindowAttention : nn.Module<Tensor, Tensor?, Tensor>
{
    private readonly Parameter relative_position_bias_table;
    private readonly Tensor relative_position_index;
    private readonly Linear qkv;
    private readonly Dropout attn_drop;
    private readonly Linear proj;
    private readonly Dropout proj_drop;
    private readonly double scale;

    /// <summary>Creates window attention for <paramref name="dim"/> channels on Wh×Ww windows.</summary>
    public WindowAttention(long dim, long windowH, long windowW, long numHeads, bool qkvBias = true,
        double attnDrop = 0.0, double projDrop = 0.0) : base(nameof(WindowAttention))
    {
        if (numHeads <= 0 || dim % numHeads != 0)
            throw new ArgumentException($"WindowAttention: dim ({dim}) must be divisible by num_heads ({numHeads}).");
        Dim = dim; NumHeads = numHeads; WindowH = windowH; WindowW = windowW;
        scale = Math.Pow(dim / numHeads, -0.5);
        relative_position_bias_table = nn.Parameter(torch.zeros((2 * windowH - 1) * (2 * windowW - 1), numHeads));
        relative_position_index = RelativePositionIndex(windowH, windowW);
        qkv = nn.Linear(dim, dim * 3, hasBias: qkvBias);
        attn_drop = nn.Dropout(attnDrop);
        proj = nn.Linear(dim, dim);
        proj_drop = nn.Dropout(projDrop);
        using (torch.no_grad()) LayerInit.TruncNormal_(relative_position_bias_table, std: 0.02);
        RegisterComponents();
    }

    /// <summary>Channels.</summary>
    public long Dim { get; }
    /// <summary>Heads.</summary>
    public long NumHeads { get; }
    /// <summary>Window rows.</summary>
    public long WindowH { get; }
    /// <summary>Window columns.</summary>
    public long WindowW { get; }
    /// <summary>The qkv projection (a preceding norm folds into it).</summary>
    public Linear Qkv => qkv;
    /// <summary>The output projection.</summary>
    public Linear Proj => proj;

    /// <summary>Pairwise relative-position index inside a window, as the Swin code builds it.</summary>
    private static Tensor RelativePositionIndex(long wh, long ww)
    {
        using var scope = torch.NewDisposeScope();
        var coords = torch.stack(torch.meshgrid(new[] { ScalarOps.Arange(wh), ScalarOps.Arange(ww) }, indexing: "ij")).flatten(1); // 2, N
        var rel = (coords.unsqueeze(-1) - coords.unsqueeze(-2)).permute(1, 2, 0).contiguous(); // N, N, 2
        var r0 = rel.select(2, 0).Plus(wh - 1).Times(2 * ww - 1);
        var r1 = rel.select(2, 1).Plus(ww - 1);
        return r0.Plus(r1).to(int64).MoveToOuterDisposeScope();
    }

    /// <summary>Attends within windows: x (nW·B, N, C); <paramref name="mask"/> (nW, N, N) of 0/−100 or null.</summary>
    public override Tensor forward(Tensor x, Tensor? mask)
    {
        TokenShape.Check(x, Dim, nameof(WindowAttention));
        long n = WindowH * WindowW;
        if (x.shape[1] != n) throw new ArgumentException($"WindowAttention: expected {WindowH}×{WindowW} = {n} tokens per window, got {x.shape[1]}.");
        using var scope = torch.NewDisposeScope();
        long b = x.shape[0], c = Dim, h = NumHeads;
        var parts = qkv.call(x).reshape(b, n, 3, h, c / h).permute(2, 0, 3, 1, 4).unbind(0);
        var q = parts[0].Times(scale);
        var attn = torch.matmul(q, parts[1].transpose(-2, -1));
        var bias = relative_position_bias_table.index_select(0, relative_position_index.view(-1)).view(n, n, -1).permute(2, 0, 1);
        attn = attn.Plus(bias.unsqueeze(0));
        if (mask is not null)
        {
            long nW = mask.shape[0];
            attn = attn.view(b / nW, nW, h, n, n).Plus(mask.unsqueeze(1).unsqueeze(0));
            attn = attn.view(-1, h, n, n);
        }
        attn = attn_drop.call(attn.softmax(-1));
        var o = torch.matmul(attn, parts[2]).transpose(1, 2).reshape(b, n, c);
        return proj_drop.call(proj.call(o)).MoveToOuterDisposeScope();
    }
}

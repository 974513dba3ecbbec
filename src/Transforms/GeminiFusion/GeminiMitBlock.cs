using MLNetExtensions.Core.Torch;
using MLNetExtensions.Transforms.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.GeminiFusion;

/// <summary>Intermediates of one <see cref="GeminiMitBlock"/> call.</summary>
/// <param name="Attention">The attention's trace (pre-fusion, fusion, post-projection tensors).</param>
/// <param name="Outputs">Block outputs per modality.</param>
public sealed record GeminiBlockTrace(GeminiAttentionTrace Attention, Tensor[] Outputs)
{
    /// <summary>Fusion inputs (per-modality self-attention outputs before the out-projection).</summary>
    public Tensor[] PreFusion => Attention.PreFusion;

    /// <summary>Fusion outputs (before the shared out-projection).</summary>
    public Tensor[] PostFusion => Attention.Fusion.Outputs;
}

/// <summary>
/// Official GeminiFusion MiT <c>Block</c>: x ← x + DropPath(Attention(norm1(x))), x ← x + DropPath(MixFfn(norm2(x))),
/// with per-modality LayerNorms (eps 1e-6) and every other weight shared. Keys <c>norm1.ln_i.*</c>, <c>attn.*</c>,
/// <c>norm2.ln_i.*</c>, <c>mlp.*</c>. Drop path draws its own mask per modality, as the official ModuleParallel(DropPath).
/// </summary>
public sealed class GeminiMitBlock : nn.Module<IReadOnlyList<Tensor>, long, long, Tensor[]>
{
    private readonly LayerNormParallel norm1;
    private readonly GeminiMitAttention attn;
    private readonly DropPath drop_path;
    private readonly LayerNormParallel norm2;
    private readonly MixFfn mlp;

    /// <summary>Creates the block.</summary>
    public GeminiMitBlock(int dim, int numHeads, int modalities = 2, double mlpRatio = 4.0, bool qkvBias = true,
        int srRatio = 1, int crossHeads = 8, double drop = 0.0, double attnDrop = 0.0, double dropPath = 0.0)
        : base(nameof(GeminiMitBlock))
    {
        norm1 = new LayerNormParallel(dim, modalities);
        attn = new GeminiMitAttention(dim, numHeads, modalities, qkvBias, srRatio, crossHeads, attnDrop, drop);
        drop_path = new DropPath(dropPath);
        norm2 = new LayerNormParallel(dim, modalities);
        mlp = new MixFfn(dim, (int)(dim * mlpRatio), drop);
        RegisterComponents();
    }

    /// <summary>The attention (with its fusion).</summary>
    public GeminiMitAttention Attention => attn;

    /// <inheritdoc/>
    public override Tensor[] forward(IReadOnlyList<Tensor> x, long h, long w) => Run(x, h, w, trace: false).Outputs;

    /// <summary>Runs the block and returns the pre-/post-fusion tensors and fusion intermediates too.</summary>
    public GeminiBlockTrace Trace(IReadOnlyList<Tensor> x, long h, long w) => Run(x, h, w, trace: true);

    private GeminiBlockTrace Run(IReadOnlyList<Tensor> x, long h, long w, bool trace)
    {
        ArgumentNullException.ThrowIfNull(x);
        using var scope = torch.NewDisposeScope();
        var normed = norm1.call(x);
        var at = trace ? attn.Trace(normed, h, w) : new GeminiAttentionTrace([], null!, attn.call(normed, h, w));
        var y = new Tensor[x.Count];
        for (int m = 0; m < x.Count; m++) y[m] = x[m].Plus(drop_path.call(at.Outputs[m]));
        var f = mlp.call(norm2.call(y), h, w);
        var outs = new Tensor[x.Count];
        for (int m = 0; m < x.Count; m++) outs[m] = y[m].Plus(drop_path.call(f[m])).MoveToOuterDisposeScope();
        if (!trace) return new GeminiBlockTrace(at, outs);
        foreach (var t in at.PreFusion.Concat(at.Outputs).Concat(at.Fusion.Outputs).Concat(at.Fusion.AttentionWeights).Concat(at.Fusion.Relations.Values))
            t.MoveToOuterDisposeScope();
        return new GeminiBlockTrace(at, outs);
    }
}

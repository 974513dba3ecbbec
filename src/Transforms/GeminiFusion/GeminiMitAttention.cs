using MLNetExtensions.Core.Torch;
using MLNetExtensions.Transforms.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.GeminiFusion;

/// <summary>Intermediates of one <see cref="GeminiMitAttention"/> call.</summary>
/// <param name="PreFusion">Per-modality self-attention outputs attn·V reshaped to (B, N, C): the fusion inputs.</param>
/// <param name="Fusion">The fusion's trace (its <c>Outputs</c> are the post-fusion tensors, before the shared out-projection).</param>
/// <param name="Outputs">Attention outputs after the shared out-projection (and its dropout).</param>
public sealed record GeminiAttentionTrace(Tensor[] PreFusion, GeminiFusionTrace Fusion, Tensor[] Outputs);

/// <summary>
/// Official GeminiFusion MiT <c>Attention</c> (models/mix_transformer.py): per-modality efficient self-attention
/// (shared q/kv, optional spatial-reduction conv with per-modality LayerNorm), then <see cref="GeminiFusionLayer"/> on
/// the attn·V tensors, then the shared out-projection <c>proj</c>. Keys <c>q.module.*</c>, <c>kv.module.*</c>,
/// <c>proj.module.*</c>, <c>sr.module.*</c> and <c>norm.ln_i.*</c> (sr &gt; 1 only), and the fusion's keys directly at
/// this level (<c>cross_attn_0_to_1.*</c>, <c>relation_judger.0.*</c>, <c>k_noise.weight</c>, …), as in the official module.
/// </summary>
public sealed class GeminiMitAttention : nn.Module<IReadOnlyList<Tensor>, long, long, Tensor[]>
{
    private readonly ModuleParallel q;
    private readonly ModuleParallel kv;
    private readonly Dropout attn_drop;
    private readonly ModuleParallel proj;
    private readonly Dropout proj_drop;
    private readonly ModuleParallel? sr;
    private readonly LayerNormParallel? norm;
    private readonly GeminiFusionLayer _fusion;

    private readonly Scalar _scale;

    /// <summary>
    /// Creates the attention with the official initialisation (Linears truncated-normal std 0.02 with zero bias,
    /// spatial-reduction conv N(0, 2/fan_out) with zero bias, LayerNorms identity, fusion as <see cref="GeminiFusionLayer"/>).
    /// </summary>
    public GeminiMitAttention(int dim, int numHeads, int modalities = 2, bool qkvBias = true, int srRatio = 1,
        int crossHeads = 8, double attnDrop = 0.0, double projDrop = 0.0) : base(nameof(GeminiMitAttention))
    {
        if (dim < 1 || numHeads < 1 || dim % numHeads != 0)
            throw new ArgumentException($"dim {dim} should be divided by num_heads {numHeads}.");
        if (srRatio < 1) throw new ArgumentOutOfRangeException(nameof(srRatio), srRatio, "sr ratio must be ≥ 1.");
        Dim = dim;
        NumHeads = numHeads;
        SrRatio = srRatio;
        Modalities = modalities;
        q = new ModuleParallel(MitInit.Linear(dim, dim, qkvBias));
        kv = new ModuleParallel(MitInit.Linear(dim, 2 * dim, qkvBias));
        attn_drop = nn.Dropout(attnDrop);
        proj = new ModuleParallel(MitInit.Linear(dim, dim, true));
        proj_drop = nn.Dropout(projDrop);
        if (srRatio > 1)
        {
            sr = new ModuleParallel(MitInit.Conv2d(dim, dim, srRatio, srRatio, 0, 1));
            norm = new LayerNormParallel(dim, modalities);
        }
        _scale = Math.Pow(dim / numHeads, -0.5);
        var fusion = new GeminiFusionLayer(dim, modalities, crossHeads);
        RegisterComponents();
        // The official module holds the fusion parameters directly (attn.cross_attn_0_to_1.*, attn.k_noise.weight, …):
        // register the fusion's children here under their own names, and keep the fusion object itself out of the
        // registration (the field is assigned only after RegisterComponents).
        foreach (var (name, child) in fusion.named_children()) register_module(name, child);
        _fusion = fusion;
    }

    /// <summary>Width C.</summary>
    public int Dim { get; }

    /// <summary>Self-attention heads.</summary>
    public int NumHeads { get; }

    /// <summary>Spatial-reduction ratio of keys/values.</summary>
    public int SrRatio { get; }

    /// <summary>Number of modalities.</summary>
    public int Modalities { get; }

    /// <summary>The fusion (its parameters are this module's <c>cross_attn_*</c>, <c>relation_judger</c>, <c>k_noise</c>, <c>v_noise</c>).</summary>
    public GeminiFusionLayer Fusion => _fusion;

    /// <inheritdoc/>
    public override Tensor[] forward(IReadOnlyList<Tensor> x, long h, long w) => Run(x, h, w, trace: false).Outputs;

    /// <summary>Runs the attention and returns the pre-/post-fusion tensors and the fusion's intermediates.</summary>
    public GeminiAttentionTrace Trace(IReadOnlyList<Tensor> x, long h, long w) => Run(x, h, w, trace: true);

    /// <summary>Per-modality MiT efficient self-attention: attn·V reshaped to (B, N, C), before any projection.</summary>
    public Tensor[] SelfAttention(IReadOnlyList<Tensor> x, long h, long w)
    {
        Check(x, h, w);
        using var scope = torch.NewDisposeScope();
        long b = x[0].shape[0], n = x[0].shape[1], c = Dim, hd = Dim / NumHeads;
        var qs = q.call(x);
        Tensor[] src = x.ToArray();
        if (sr is not null)
        {
            var grids = x.Select(t => t.permute(0, 2, 1).reshape(b, c, h, w)).ToArray();
            var reduced = sr.call(grids).Select(t => t.reshape(b, c, -1).permute(0, 2, 1)).ToArray();
            src = norm!.call(reduced);
        }
        var kvs = kv.call(src);
        var outs = new Tensor[x.Count];
        for (int m = 0; m < x.Count; m++)
        {
            var qm = qs[m].reshape(b, n, NumHeads, hd).permute(0, 2, 1, 3);
            var kvm = kvs[m].reshape(b, -1, 2, NumHeads, hd).permute(2, 0, 3, 1, 4);
            var kt = kvm[0].transpose(-2, -1);
            var attn = qm.matmul(kt).mul(_scale).softmax(-1);
            attn = attn_drop.call(attn);
            outs[m] = attn.matmul(kvm[1]).transpose(1, 2).reshape(b, n, c).MoveToOuterDisposeScope();
            if (MacCounter.Active)
            {
                MacCounter.AddMatmul(this, "q@k", qm, kt);
                MacCounter.AddMatmul(this, "attn@v", attn, kvm[1]);
            }
        }
        return outs;
    }

    private GeminiAttentionTrace Run(IReadOnlyList<Tensor> x, long h, long w, bool trace)
    {
        using var scope = torch.NewDisposeScope();
        var pre = SelfAttention(x, h, w);
        GeminiFusionTrace fused = trace ? _fusion.Trace(pre) : new GeminiFusionTrace(_fusion.call(pre), [], new Dictionary<(int, int), Tensor>());
        var outs = proj.call(fused.Outputs).Select(t => proj_drop.call(t).MoveToOuterDisposeScope()).ToArray();
        if (!trace) return new GeminiAttentionTrace([], fused, outs);
        foreach (var t in pre) t.MoveToOuterDisposeScope();
        foreach (var t in fused.Outputs) t.MoveToOuterDisposeScope();
        foreach (var t in fused.AttentionWeights) t.MoveToOuterDisposeScope();
        foreach (var t in fused.Relations.Values) t.MoveToOuterDisposeScope();
        return new GeminiAttentionTrace(pre, fused, outs);
    }

    private void Check(IReadOnlyList<Tensor> x, long h, long w)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Count != Modalities)
            throw new ArgumentException($"Built for {Modalities} modalities; got {x.Count} tensors.", nameof(x));
        foreach (var t in x)
            if (t is null || t.dim() != 3 || t.shape[2] != Dim || t.shape[1] != h * w || !t.shape.SequenceEqual(x[0].shape))
                throw new ArgumentException(
                    $"Every modality must be (B, H·W = {h * w}, {Dim}) with the same B; got [{string.Join(", ", t?.shape ?? [])}].", nameof(x));
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) _scale.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>The official MiT <c>_init_weights</c> applied per layer type.</summary>
internal static class MitInit
{
    /// <summary>Linear with weight truncated-normal std 0.02 and bias 0.</summary>
    public static Linear Linear(long inFeatures, long outFeatures, bool bias)
    {
        var l = nn.Linear(inFeatures, outFeatures, hasBias: bias);
        using var _ = torch.no_grad();
        LayerInit.TruncNormal_(l.weight!, std: 0.02);
        l.bias?.zero_();
        return l;
    }

    /// <summary>Conv2d with weight N(0, 2/fan_out), fan_out = k·k·out/groups, and bias 0.</summary>
    public static Conv2d Conv2d(long inChannels, long outChannels, long kernel, long stride, long padding, long groups)
    {
        var c = nn.Conv2d(inChannels, outChannels, kernel, stride: stride, padding: padding, groups: groups, bias: true);
        double fanOut = kernel * kernel * outChannels / (double)groups;
        using var _ = torch.no_grad();
        nn.init.normal_(c.weight!, 0, Math.Sqrt(2.0 / fanOut));
        c.bias!.zero_();
        return c;
    }
}

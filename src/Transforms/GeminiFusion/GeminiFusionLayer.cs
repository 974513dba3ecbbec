using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using LayersMlp = MLNetExtensions.Transforms.Layers.Mlp;
using MLNetExtensions.Transforms.Slab;

namespace MLNetExtensions.Transforms.GeminiFusion;

/// <summary>
/// Intermediates of one <see cref="GeminiFusionLayer"/> call, for parity checks and analysis.
/// </summary>
/// <param name="Outputs">Fused tokens per modality (B, N, C): input + attention output (the residual is inside the fusion).</param>
/// <param name="AttentionWeights">Per query modality a, the per-token, per-head softmax weights (B, N, M, h) over its keys
/// [self (+noise), cross key of each other modality in increasing modality order].</param>
/// <param name="Relations">Relation scores r(a←b) (B, N, C), softmax over channels, keyed by (query a, other b).</param>
public sealed record GeminiFusionTrace(
    Tensor[] Outputs, Tensor[] AttentionWeights, IReadOnlyDictionary<(int Query, int Other), Tensor> Relations);

/// <summary>
/// GeminiFusion's pixel-wise fusion (official JiaDingCN/GeminiFusion <c>models/mix_transformer.py</c>,
/// <c>Attention.forward</c> after the self-attention), for M ≥ 2 spatially aligned modalities of width C.
/// For query modality a and each token n:
/// <list type="bullet">
/// <item>relation score r(a←b) = softmax over channels of <c>relation_judger</c>([x_a ‖ x_b]) (one judger, shared by all pairs);</item>
/// <item>keys: x_a + ε_k[a] (self) and x_a ⊙ r(a←b) for every other modality b (the query modality's own token, gated);</item>
/// <item>values: x_a + ε_v[a] (self) and x_b;</item>
/// <item>y_a = x_a + MHA_a(x_a; keys; values) with 8 heads (by default) and a softmax over the M keys.</item>
/// </list>
/// ε_k, ε_v are the learned <c>k_noise</c>/<c>v_noise</c> embedding rows of the query modality (nothing is sampled).
/// With two modalities this is exactly the official module: keys <c>cross_attn_0_to_1.*</c>, <c>cross_attn_1_to_0.*</c>,
/// <c>relation_judger.0.fc1/fc2.*</c>, <c>k_noise.weight</c>, <c>v_noise.weight</c>. With M modalities the attention of
/// query modality a is named <c>cross_attn_{a}_to_{others joined by _}</c> (e.g. <c>cross_attn_0_to_1_2</c>) and the
/// noise tables have M rows.
/// </summary>
public sealed class GeminiFusionLayer : nn.Module<IReadOnlyList<Tensor>, Tensor[]>
{
    private readonly TokenMultiheadAttention[] _crossAttn;
    private readonly Sequential relation_judger;
    private readonly Embedding k_noise;
    private readonly Embedding v_noise;

    /// <summary>
    /// Creates the fusion for <paramref name="modalities"/> streams of width <paramref name="dim"/>. Initialisation as
    /// the official code: judger Linears truncated-normal std 0.02 (bias 0), MHA as <see cref="TokenMultiheadAttention"/>,
    /// noise tables N(0, 1) (PyTorch's Embedding default, untouched by the official init).
    /// </summary>
    public GeminiFusionLayer(int dim, int modalities = 2, int crossHeads = 8) : base(nameof(GeminiFusionLayer))
    {
        if (modalities < 2) throw new ArgumentOutOfRangeException(nameof(modalities), modalities, "GeminiFusion needs at least two modalities.");
        if (dim < 1 || crossHeads < 1 || dim % crossHeads != 0)
            throw new ArgumentException($"Width {dim} must be a positive multiple of the {crossHeads} cross heads.");
        Dim = dim;
        Modalities = modalities;
        _crossAttn = new TokenMultiheadAttention[modalities];
        for (int a = 0; a < modalities; a++)
        {
            _crossAttn[a] = new TokenMultiheadAttention(dim, crossHeads);
            register_module(CrossAttentionName(a, modalities), _crossAttn[a]);
        }
        var judger = new LayersMlp(2L * dim, dim, dim);
        using (torch.no_grad())
            foreach (var fc in new[] { judger.Fc1, judger.Fc2 })
            {
                Layers.LayerInit.TruncNormal_(fc.weight!, std: 0.02);
                fc.bias!.zero_();
            }
        relation_judger = nn.Sequential(judger, nn.Softmax(-1));
        k_noise = nn.Embedding(modalities, dim);
        v_noise = nn.Embedding(modalities, dim);
        using (torch.no_grad())
        {
            nn.init.normal_(k_noise.weight!);
            nn.init.normal_(v_noise.weight!);
        }
        // The cross attentions were registered above (their names depend on M); the named fields follow.
        RegisterComponents();
    }

    /// <summary>Width C.</summary>
    public int Dim { get; }

    /// <summary>Number of modalities M.</summary>
    public int Modalities { get; }

    /// <summary>Name of query modality a's attention: <c>cross_attn_0_to_1</c> / <c>cross_attn_1_to_0</c> for two modalities.</summary>
    public static string CrossAttentionName(int query, int modalities) =>
        $"cross_attn_{query}_to_{string.Join("_", Enumerable.Range(0, modalities).Where(b => b != query))}";

    /// <summary>The attention used by query modality a.</summary>
    public TokenMultiheadAttention CrossAttention(int query) => _crossAttn[query];

    /// <summary>Relation judger: official <c>Sequential(Mlp_2(2C, C, C), Softmax(-1))</c>.</summary>
    public Sequential RelationJudger => relation_judger;

    /// <summary>Key noise table (M×C), row a used when modality a queries.</summary>
    public Embedding KeyNoise => k_noise;

    /// <summary>Value noise table (M×C), row a used when modality a queries.</summary>
    public Embedding ValueNoise => v_noise;

    /// <summary>Ablation (not official): false = this layer passes its inputs through unchanged (no fusion). Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Ablation (not official): true = the self entry is the token itself (noise rows fixed at 0 and unused). Default false.</summary>
    public bool NoiseFixedZero { get; set; }

    /// <summary>Ablation (not official): true = the relation score is the constant 1/C instead of the judger's. Default false.</summary>
    public bool ConstantRelation
    {
        get => _invC is not null;
        set { _invC?.Dispose(); _invC = value ? (1.0 / Dim).ToScalar() : null; }
    }

    private Scalar? _invC; // kept alive for LibTorch (no temporary Scalars in forward)

    /// <summary>
    /// Baseline (not official): replace the fusion by a simple one at the same place. <see cref="SimpleFusionKind.Add"/>:
    /// Y_a = X_a + Σ_b X_b; <see cref="SimpleFusionKind.Concat"/>: Y_a = X_a + Σ_b MLP([X_a ‖ X_b]) with the judger's
    /// MLP (2C→C→C, no softmax) as the concat projection. Default <see cref="SimpleFusionKind.None"/> (GeminiFusion).
    /// </summary>
    public SimpleFusionKind SimpleFusion { get; set; }

    /// <summary>Fused tokens per modality (B, N, C) for inputs (B, N, C), one per modality.</summary>
    public override Tensor[] forward(IReadOnlyList<Tensor> x) => Run(x, trace: false).Outputs;

    /// <summary>Runs the fusion and returns its intermediates too (relation scores, attention weights).</summary>
    public GeminiFusionTrace Trace(IReadOnlyList<Tensor> x) => Run(x, trace: true);

    /// <summary>Relation score r(a←b) = softmax_channels(judger([x_a ‖ x_b])), shape of x_a.</summary>
    public Tensor Relation(Tensor xa, Tensor xb)
    {
        using var cat = torch.cat([xa, xb], -1);
        return relation_judger.call(cat);
    }

    private GeminiFusionTrace Run(IReadOnlyList<Tensor> x, bool trace)
    {
        Check(x);
        using var scope = torch.NewDisposeScope();
        int m = Modalities;
        var outputs = new Tensor[m];
        var weights = new Tensor[trace ? m : 0];
        var relations = new Dictionary<(int, int), Tensor>();
        if (!Enabled) return new GeminiFusionTrace(x.ToArray(), [], relations);
        if (SimpleFusion != SimpleFusionKind.None)
        {
            var mlp = (LayersMlp)relation_judger[0];
            for (int a = 0; a < m; a++)
            {
                var y = x[a];
                for (int b = 0; b < m; b++)
                    if (b != a) y = y.Plus(SimpleFusion == SimpleFusionKind.Add ? x[b] : mlp.call(torch.cat([x[a], x[b]], -1)));
                outputs[a] = y.MoveToOuterDisposeScope();
            }
            return new GeminiFusionTrace(outputs, [], relations);
        }
        for (int a = 0; a < m; a++)
        {
            var xa = x[a];
            var keys = new Tensor[m];
            var values = new Tensor[m];
            keys[0] = NoiseFixedZero ? xa : xa.Plus(k_noise.weight![a]);
            values[0] = NoiseFixedZero ? xa : xa.Plus(v_noise.weight![a]);
            int j = 1;
            for (int b = 0; b < m; b++)
            {
                if (b == a) continue;
                if (_invC is not null) { keys[j] = xa.mul(_invC); values[j] = x[b]; j++; continue; }
                var r = Relation(xa, x[b]);
                if (trace) relations[(a, b)] = r.MoveToOuterDisposeScope();
                keys[j] = xa * r;
                values[j] = x[b];
                j++;
            }
            var (o, w) = _crossAttn[a].Attend(xa, torch.stack(keys, -2), torch.stack(values, -2), trace);
            outputs[a] = xa.Plus(o).MoveToOuterDisposeScope();
            if (trace) weights[a] = w!.MoveToOuterDisposeScope();
        }
        return new GeminiFusionTrace(outputs, weights, relations);
    }

    private void Check(IReadOnlyList<Tensor> x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Count != Modalities)
            throw new ArgumentException($"GeminiFusion was built for {Modalities} modalities; got {x.Count} tensors.", nameof(x));
        for (int i = 0; i < x.Count; i++)
        {
            if (x[i] is null) throw new ArgumentException($"Modality {i} tensor is null.", nameof(x));
            if (x[i].dim() != 3 || x[i].shape[2] != Dim || !x[i].shape.SequenceEqual(x[0].shape))
                throw new ArgumentException(
                    $"Every modality must be (B, N, {Dim}) with the same B and N; modality {i} is [{string.Join(", ", x[i].shape)}], " +
                    $"modality 0 is [{string.Join(", ", x[0].shape)}].", nameof(x));
        }
    }
}

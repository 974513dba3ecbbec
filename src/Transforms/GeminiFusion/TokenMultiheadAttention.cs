using MLNetExtensions.Core.Torch;
using MLNetExtensions.Transforms.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using MLNetExtensions.Transforms.Slab;

namespace MLNetExtensions.Transforms.GeminiFusion;

/// <summary>
/// <c>nn.MultiheadAttention</c> as GeminiFusion calls it: every token is its own attention problem, one query
/// against a short set of K keys/values belonging to that token (the official code passes the token axis as the MHA
/// batch axis, query length 1, key length 2). Computed batched over all tokens with the K-way softmax written out,
/// which equals the official call (q/k/v packed in <c>in_proj_weight</c> in that order, q′ scaled by 1/√d after its
/// bias, no bias_k/bias_v, no zero attention, dropout 0).
/// Keys <c>in_proj_weight</c> (3C×C), <c>in_proj_bias</c> (3C), <c>out_proj.weight</c>, <c>out_proj.bias</c>.
/// </summary>
public sealed class TokenMultiheadAttention : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    private readonly Parameter in_proj_weight;
    private readonly Parameter in_proj_bias;
    private readonly Linear out_proj;

    // Rooted for the module's lifetime: a temporary Scalar can be finalised while LibTorch still reads it.
    private readonly Scalar _sqrtHeadDim;

    /// <summary>
    /// Creates the attention with the official initialisation: <c>in_proj_weight</c> xavier-uniform and
    /// <c>in_proj_bias</c> 0 (PyTorch's MHA reset), <c>out_proj</c> truncated-normal std 0.02 with bias 0
    /// (GeminiFusion's <c>_init_weights</c> re-initialises it as a Linear).
    /// </summary>
    public TokenMultiheadAttention(int dim, int heads) : base(nameof(TokenMultiheadAttention))
    {
        if (dim < 1 || heads < 1 || dim % heads != 0)
            throw new ArgumentException($"Width {dim} must be a positive multiple of the {heads} heads.");
        Dim = dim;
        Heads = heads;
        in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim));
        in_proj_bias = nn.Parameter(torch.zeros(3 * dim));
        out_proj = nn.Linear(dim, dim);
        using (torch.no_grad())
        {
            nn.init.xavier_uniform_(in_proj_weight);
            LayerInit.TruncNormal_(out_proj.weight!, std: 0.02);
            out_proj.bias!.zero_();
        }
        _sqrtHeadDim = Math.Sqrt(dim / heads);
        RegisterComponents();
    }

    /// <summary>Width C.</summary>
    public int Dim { get; }

    /// <summary>Number of heads h (head width C/h).</summary>
    public int Heads { get; }

    /// <summary>Packed q/k/v projection weight (3C×C, rows q, k, v).</summary>
    public Parameter InProjWeight => in_proj_weight;

    /// <summary>Packed q/k/v projection bias (3C).</summary>
    public Parameter InProjBias => in_proj_bias;

    /// <summary>Output projection.</summary>
    public Linear OutProj => out_proj;

    /// <summary>Attention output (…, C) for queries (…, C), keys and values (…, K, C).</summary>
    public override Tensor forward(Tensor query, Tensor keys, Tensor values) => Attend(query, keys, values, needWeights: false).Output;

    /// <summary>
    /// Attention of each query over its own K keys. Returns the output (…, C) and, when <paramref name="needWeights"/>,
    /// the per-head softmax weights (…, K, h) (official <c>average_attn_weights=False</c> layout, keys before heads).
    /// </summary>
    public (Tensor Output, Tensor? Weights) Attend(Tensor query, Tensor keys, Tensor values, bool needWeights)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(values);
        if (query.shape[^1] != Dim || keys.dim() != query.dim() + 1 || keys.shape[^1] != Dim || !keys.shape.SequenceEqual(values.shape))
            throw new ArgumentException(
                $"Expected query (…, {Dim}) and keys/values (…, K, {Dim}); got [{string.Join(", ", query.shape)}], " +
                $"[{string.Join(", ", keys.shape)}], [{string.Join(", ", values.shape)}].");
        using var scope = torch.NewDisposeScope();
        long d = Dim / Heads, k = keys.shape[^2];
        var lead = query.shape[..^1];
        var w = in_proj_weight.chunk(3, 0);
        var b = in_proj_bias.chunk(3, 0);
        var q = nn.functional.linear(query, w[0], b[0]).reshape(-1, 1, Heads, d).div(_sqrtHeadDim);   // (T, 1, h, d)
        var kp = nn.functional.linear(keys, w[1], b[1]).reshape(-1, k, Heads, d);                    // (T, K, h, d)
        var vp = nn.functional.linear(values, w[2], b[2]).reshape(-1, k, Heads, d);                  // (T, K, h, d)
        var attn = (q * kp).sum(-1).softmax(1);                                                     // (T, K, h)
        var o = (attn.unsqueeze(-1) * vp).sum(1).reshape([.. lead, Dim]);                            // (…, C)
        var output = out_proj.call(o).MoveToOuterDisposeScope();
        if (MacCounter.Active)
        {
            long tokens = q.shape[0];
            MacCounter.Add(this, "in_proj", (tokens + keys.numel() / Dim + values.numel() / Dim) * Dim * Dim); // q, each key, each value: C×C
            MacCounter.Add(this, "scores", tokens * k * Dim);  // ⟨q′, k′_j⟩ over all heads
            MacCounter.Add(this, "weighted_sum", tokens * k * Dim); // Σ_j α_j v′_j
        }
        var weights = needWeights ? attn.reshape([.. lead, k, Heads]).MoveToOuterDisposeScope() : null;
        return (output, weights);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) _sqrtHeadDim.Dispose();
        base.Dispose(disposing);
    }
}

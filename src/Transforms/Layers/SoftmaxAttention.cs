using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using MLNetExtensions.Transforms.Slab;

namespace MLNetExtensions.Transforms.Layers;

/// <summary>
/// Global multi-head softmax self-attention (timm/DeiT <c>Attention</c>): qkv → softmax(q·kᵀ/√d)·v → proj.
/// Keys <c>qkv.*</c>, <c>proj.*</c>. Used as the softmax baseline next to <see cref="SimplifiedLinearAttention"/>.
/// </summary>
public sealed class SoftmaxAttention : nn.Module<Tensor, Tensor>
{
    private readonly Linear qkv;
    private readonly Dropout attn_drop;
    private readonly Linear proj;
    private readonly Dropout proj_drop;
    private readonly double scale;
    private readonly Scalar scaleScalar;

    /// <summary>Creates the attention for <paramref name="dim"/> channels and <paramref name="numHeads"/> heads.</summary>
    public SoftmaxAttention(long dim, long numHeads, bool qkvBias = true, double attnDrop = 0.0, double projDrop = 0.0)
        : base(nameof(SoftmaxAttention))
    {
        if (numHeads <= 0 || dim % numHeads != 0)
            throw new ArgumentException($"SoftmaxAttention: dim ({dim}) must be divisible by num_heads ({numHeads}).");
        Dim = dim; NumHeads = numHeads;
        scale = Math.Pow(dim / numHeads, -0.5);
        scaleScalar = scale;
        qkv = nn.Linear(dim, dim * 3, hasBias: qkvBias);
        attn_drop = nn.Dropout(attnDrop);
        proj = nn.Linear(dim, dim);
        proj_drop = nn.Dropout(projDrop);
        RegisterComponents();
    }

    /// <summary>Channels.</summary>
    public long Dim { get; }
    /// <summary>Heads.</summary>
    public long NumHeads { get; }
    /// <summary>The qkv projection (a preceding norm folds into it).</summary>
    public Linear Qkv => qkv;

    /// <summary>Attends over all tokens of x (B, N, C).</summary>
    public override Tensor forward(Tensor x) => Attend(x).Output;

    /// <summary>
    /// Attention with an optional mask and, on request, the attention probabilities.
    /// <paramref name="blocked"/> is a bool tensor broadcastable to (B, H, N, N), true where query i may not see key j
    /// (causal future, padding); those scores are set to the float minimum before the softmax, so their probability
    /// is exactly 0 whenever the row has at least one visible key. Every row must keep one visible key.
    /// The probabilities returned are those before attention dropout, shape (B, H, N, N), computed in float32.
    /// </summary>
    public (Tensor Output, Tensor? Probabilities) Attend(Tensor x, Tensor? blocked = null, bool returnProbabilities = false)
    {
        TokenShape.Check(x, Dim, nameof(SoftmaxAttention));
        using var scope = torch.NewDisposeScope();
        long b = x.shape[0], n = x.shape[1], c = Dim, h = NumHeads;
        var parts = qkv.call(x).reshape(b, n, 3, h, c / h).permute(2, 0, 3, 1, 4).unbind(0);
        var scores = torch.matmul(parts[0], parts[1].transpose(-2, -1)).mul(scaleScalar);
        Tensor probs;
        if (blocked is null)
            probs = scores.softmax(-1);
        else
            probs = scores.masked_fill(blocked, MinScore).softmax(-1, ScalarType.Float32).to(scores.dtype);
        var attn = attn_drop.call(probs);
        var o = torch.matmul(attn, parts[2]).transpose(1, 2).reshape(b, n, c);
        var output = proj_drop.call(proj.call(o)).MoveToOuterDisposeScope();
        return (output, returnProbabilities ? probs.MoveToOuterDisposeScope() : null);
    }

    // Rooted scalars: no temporary Scalar handed to LibTorch per call.
    private static readonly Scalar MinScore = float.MinValue;
}

using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Slab;

/// <summary>
/// Folds a per-channel affine norm <c>z = a⊙x + b</c> (a BatchNorm-family norm in eval form) into the adjacent
/// Linear/Conv layer, so inference needs no normalisation op (SLAB re-parameterisation, method note §2.5).
/// All methods modify the layer in place under no_grad.
/// </summary>
public static class NormFolding
{
    /// <summary>The affine map of a foldable norm; throws a clear error for LayerNorm/RMSNorm.</summary>
    public static (Tensor a, Tensor b) AffineOf(nn.Module norm, string where)
    {
        if (norm is IFoldableNorm f) return f.GetAffine();
        throw new InvalidOperationException(
            $"Cannot fold the norm at '{where}': it is a {norm.GetType().Name}, which computes statistics per token at run time. " +
            "Only BatchNorm, RepBN and PRepBN norms fold into the adjacent layer.");
    }

    /// <summary>
    /// Folds z = a⊙x + b into the following Linear y = W z + c: W ← W·diag(a), c ← W b + c.
    /// A Linear without bias gains one (e.g. Swin PatchMerging <c>reduction</c>).
    /// </summary>
    public static void IntoFollowingLinear(Linear linear, Tensor a, Tensor b)
    {
        using var _ = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var w = linear.weight!;
        if (w.shape[1] != a.shape[0]) throw new ArgumentException($"Fold: Linear has {w.shape[1]} inputs but the norm has {a.shape[0]} channels.");
        var newBias = torch.mv(w, b);
        if (linear.bias is not null) newBias = newBias.Plus(linear.bias);
        var newW = w * a.unsqueeze(0);
        w.copy_(newW);
        if (linear.bias is not null) linear.bias.copy_(newBias);
        else linear.bias = new Parameter(newBias.detach().clone().DetachFromDisposeScope());
    }

    /// <summary>
    /// Folds a norm that follows a convolution (patch embedding): out channel c becomes a_c·(conv_c) + b_c, i.e.
    /// weight_c ← a_c·weight_c and bias_c ← a_c·bias_c + b_c. (The official Swin <c>PatchEmbed.merge_bn</c>
    /// omits the alpha·bias term; this is the exact form.)
    /// </summary>
    public static void IntoPrecedingConv(Conv2d conv, Tensor a, Tensor b)
    {
        using var _ = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var w = conv.weight!;
        if (w.shape[0] != a.shape[0]) throw new ArgumentException($"Fold: conv has {w.shape[0]} output channels but the norm has {a.shape[0]}.");
        var newW = w * a.view(-1, 1, 1, 1);
        var newBias = conv.bias is null ? b.clone() : (a * conv.bias).Plus(b);
        w.copy_(newW);
        if (conv.bias is not null) conv.bias.copy_(newBias);
        else conv.bias = new Parameter(newBias.detach().clone().DetachFromDisposeScope());
    }

    /// <summary>Scales the outputs of a Linear per channel: rows of W and the bias (if any) times <paramref name="a"/>.</summary>
    public static void ScaleOutputs(Linear linear, Tensor a)
    {
        using var _ = torch.no_grad();
        linear.weight!.mul_(a.unsqueeze(1));
        linear.bias?.mul_(a);
    }

    /// <summary>Scales the outputs of a convolution per output channel (weight and bias).</summary>
    public static void ScaleOutputs(Conv2d conv, Tensor a)
    {
        using var _ = torch.no_grad();
        conv.weight!.mul_(a.view(-1, 1, 1, 1));
        conv.bias?.mul_(a);
    }

    /// <summary>Divides the input columns of a Linear by <paramref name="a"/>, so it reads a⊙x as it read x.</summary>
    public static void UnscaleInputs(Linear linear, Tensor a)
    {
        using var _ = torch.no_grad();
        linear.weight!.div_(a.unsqueeze(0));
    }

    /// <summary>Folds a norm into several Linears that all read its output (e.g. LLaMA q/k/v_proj).</summary>
    public static void IntoFollowingLinears(nn.Module norm, string where, params Linear[] linears)
    {
        var (a, b) = AffineOf(norm, where);
        using (a) using (b)
            foreach (var l in linears) IntoFollowingLinear(l, a, b);
    }
}

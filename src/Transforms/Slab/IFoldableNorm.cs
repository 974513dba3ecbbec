using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Slab;

/// <summary>
/// A token normalisation whose inference form is a fixed per-channel affine map <c>y = a⊙x + b</c>
/// (BatchNorm-family norms with frozen running statistics), so it can be folded into an adjacent linear layer.
/// </summary>
public interface IFoldableNorm
{
    /// <summary>Channel count C.</summary>
    long Channels { get; }

    /// <summary>The inference-mode map as detached per-channel tensors (a, b), each of shape [C].</summary>
    (Tensor a, Tensor b) GetAffine();
}

/// <summary>Shape checks shared by the token layers, with messages that name what was expected.</summary>
internal static class TokenShape
{
    /// <summary>Throws unless <paramref name="x"/> is (B, N, C) with C = <paramref name="channels"/>.</summary>
    public static void Check(Tensor x, long channels, string who)
    {
        if (x.dim() != 3)
            throw new ArgumentException($"{who}: expected tokens of shape (B, N, C={channels}), got a {x.dim()}-D tensor ({string.Join(", ", x.shape)}).");
        if (x.shape[2] != channels)
            throw new ArgumentException($"{who}: expected {channels} channels in the last dimension, got {x.shape[2]} (shape {string.Join(", ", x.shape)}).");
    }
}

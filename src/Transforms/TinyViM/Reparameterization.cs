using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.TinyViM;

/// <summary>A train-time block that folds into one biased <see cref="Conv2d"/> (official <c>fuse()</c>).</summary>
public interface IFusable
{
    /// <summary>Returns a new convolution equal to this block in eval mode (BatchNorm running statistics folded in).</summary>
    Conv2d Fuse();
}

/// <summary>A module whose children can be re-parameterised in place (official <c>utils.replace_batchnorm</c>).</summary>
public interface IDeployable
{
    /// <summary>Replaces every fusable descendant by its fused convolution.</summary>
    void SwitchToDeploy();
}

/// <summary>BatchNorm folding arithmetic shared by the re-parameterisable blocks.</summary>
internal static class Reparameterization
{
    /// <summary>Per-channel BN scale γ/√(σ²+ε).</summary>
    public static Tensor Scale(SafeBatchNorm2d bn) => bn.weight / bn.running_var!.Plus(bn.eps).sqrt();

    /// <summary>
    /// Folds <paramref name="bn"/> into a conv with weight <paramref name="w"/> and bias <paramref name="b"/> (null = 0):
    /// w' = w·s, b' = β + (b − μ)·s.
    /// </summary>
    public static (Tensor Weight, Tensor Bias) FoldBatchNorm(Tensor w, Tensor? b, SafeBatchNorm2d bn)
    {
        var s = Scale(bn);
        var weight = w * s.view(-1, 1, 1, 1);
        var centred = b is null ? bn.running_mean!.neg() : b - bn.running_mean!;
        return (weight, bn.bias!.Plus(centred * s));
    }

    /// <summary>Builds a biased Conv2d holding the given (already folded) weight and bias.</summary>
    public static Conv2d MakeConv(Tensor weight, Tensor bias, (long, long) stride, (long, long) padding, long groups)
    {
        var outCh = weight.shape[0];
        var inCh = weight.shape[1] * groups;
        var conv = nn.Conv2d(inCh, outCh, (weight.shape[2], weight.shape[3]), stride: stride, padding: padding,
            groups: groups, bias: true, device: weight.device, dtype: weight.dtype);
        using (torch.no_grad())
        {
            conv.weight!.copy_(weight);
            conv.bias!.copy_(bias);
        }
        return conv;
    }

    /// <summary>
    /// If <paramref name="child"/> is fusable, registers its fused conv under <paramref name="name"/> in
    /// <paramref name="parent"/> (same key as the official deploy graph) and disposes the old block; otherwise recurses
    /// into it. Returns the module now held in that slot.
    /// </summary>
    public static nn.Module<Tensor, Tensor> Deploy(nn.Module parent, string name, nn.Module<Tensor, Tensor> child)
    {
        switch (child)
        {
            case IFusable fusable:
                Conv2d fused;
                using (torch.no_grad()) fused = fusable.Fuse();
                fused.train(parent.training);
                parent.register_module(name, null!);
                parent.register_module(name, fused);
                child.Dispose();
                return fused;
            case IDeployable deployable:
                deployable.SwitchToDeploy();
                return child;
            default:
                return child;
        }
    }
}

using MLNetExtensions.Transforms.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Slab;

/// <summary>Initialisation and module-replacement helpers shared by the SLAB model families.</summary>
internal static class SlabInit
{
    /// <summary>timm/Swin init: every Linear weight ~ truncated N(0, 0.02²), biases 0 (LayerNorm keeps 1/0).</summary>
    public static void TruncNormalLinears(nn.Module root)
    {
        using var _ = torch.no_grad();
        foreach (var m in root.modules())
        {
            if (m is not Linear l) continue;
            LayerInit.TruncNormal_(l.weight!, std: 0.02);
            l.bias?.zero_();
        }
    }

    /// <summary>Removes the registered child <paramref name="name"/> (its keys leave the state dict) and disposes it.</summary>
    public static void Unregister(nn.Module parent, string name)
    {
        var old = parent.named_children().FirstOrDefault(c => c.name == name).module;
        parent.register_module(name, null!);
        old?.Dispose();
    }

    /// <summary>Replaces the child <paramref name="name"/> by a parameter-less Identity and returns it.</summary>
    public static nn.Module<Tensor, Tensor> ReplaceWithIdentity(nn.Module parent, string name)
    {
        Unregister(parent, name);
        var id = nn.Identity();
        parent.register_module(name, id);
        return id;
    }

    /// <summary>Throws unless the norm kind has an affine inference form.</summary>
    public static void CheckFoldable(TokenNormKind kind)
    {
        if (kind == TokenNormKind.LayerNorm)
            throw new InvalidOperationException("SwitchToDeploy: LayerNorm computes statistics per token at run time and cannot be folded; only BatchNorm, RepBN and PRepBN models can be re-parameterised.");
    }
}

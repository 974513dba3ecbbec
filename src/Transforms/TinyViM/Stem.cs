using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.TinyViM;

/// <summary>
/// Stem (official <c>stem()</c>, an nn.Sequential): [0] Conv2d_BN in→c/2 3×3 s2 p1, [1] GELU, [2] Conv2d_BN c/2→c
/// 3×3 s2 p1, [3] GELU. The GELUs have no parameters, so the keys are <c>0.*</c> and <c>2.*</c>.
/// </summary>
public sealed class Stem : nn.Module<Tensor, Tensor>, IDeployable
{
    [ComponentName(Name = "0")] private nn.Module<Tensor, Tensor> conv0;
    [ComponentName(Name = "2")] private nn.Module<Tensor, Tensor> conv2;

    /// <summary>Creates the stem producing <paramref name="outChannels"/> channels at 1/4 resolution.</summary>
    public Stem(int inChannels, int outChannels) : base("stem")
    {
        conv0 = new Conv2dBN(inChannels, outChannels / 2, 3, 2, 1);
        conv2 = new Conv2dBN(outChannels / 2, outChannels, 3, 2, 1);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var a = conv0.call(x);
        using var b = nn.functional.gelu(a);
        using var c = conv2.call(b);
        return nn.functional.gelu(c);
    }

    /// <inheritdoc />
    public void SwitchToDeploy()
    {
        conv0 = Reparameterization.Deploy(this, "0", conv0);
        conv2 = Reparameterization.Deploy(this, "2", conv2);
    }
}

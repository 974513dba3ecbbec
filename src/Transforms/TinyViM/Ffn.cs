using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.TinyViM;

/// <summary>
/// Pointwise MLP on NCHW maps (official <c>FFN</c>): <c>fc1</c> = Conv2d_BN 1×1 c→h, exact GELU, <c>fc2</c> = Conv2d_BN
/// 1×1 h→c, Dropout(0) (omitted).
/// </summary>
public sealed class Ffn : nn.Module<Tensor, Tensor>, IDeployable
{
    private nn.Module<Tensor, Tensor> fc1;
    private nn.Module<Tensor, Tensor> fc2;

    /// <summary>Creates the MLP with hidden width <paramref name="hidden"/>.</summary>
    public Ffn(long channels, long hidden) : base("FFN")
    {
        fc1 = new Conv2dBN(channels, hidden);
        fc2 = new Conv2dBN(hidden, channels);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var h = fc1.call(x);
        using var a = nn.functional.gelu(h);
        return fc2.call(a);
    }

    /// <inheritdoc />
    public void SwitchToDeploy()
    {
        fc1 = Reparameterization.Deploy(this, nameof(fc1), fc1);
        fc2 = Reparameterization.Deploy(this, nameof(fc2), fc2);
    }
}

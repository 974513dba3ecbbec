using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.TinyViM;

/// <summary>Down-sampler between stages (official <c>Embedding</c>): one Conv2d_BN named <c>proj</c>, no activation.</summary>
public sealed class Embedding : nn.Module<Tensor, Tensor>, IDeployable
{
    private nn.Module<Tensor, Tensor> proj;

    /// <summary>Creates the down-sampler (official defaults: kernel 3, stride 2, padding 1).</summary>
    public Embedding(int inChannels, int embedDim, int patchSize = 3, int stride = 2, int padding = 1) : base(nameof(Embedding))
    {
        proj = new Conv2dBN(inChannels, embedDim, patchSize, stride, padding);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x) => proj.call(x);

    /// <inheritdoc />
    public void SwitchToDeploy() => proj = Reparameterization.Deploy(this, nameof(proj), proj);
}

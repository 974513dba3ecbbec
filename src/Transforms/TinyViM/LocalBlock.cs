using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using MLNetExtensions.Transforms.Layers;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.TinyViM;

/// <summary>
/// Conv-only block (official <c>LocalBlock</c>): y = x + DropPath(γ ⊙ FFN(RepDW(x))), γ = <c>layer_scale</c> of shape
/// (c, 1, 1). Note RepDW carries its own identity path inside the residual branch.
/// </summary>
public sealed class LocalBlock : nn.Module<Tensor, Tensor>, IDeployable
{
    private readonly Parameter layer_scale;
    private nn.Module<Tensor, Tensor> dwconv;
    private readonly Ffn mlp;
    private readonly DropPath drop_path;

    /// <summary>Creates the block; the official code always starts γ at 1 (<paramref name="layerScaleInit"/>).</summary>
    public LocalBlock(int dim, int hiddenDim, double dropPath = 0.0, double layerScaleInit = 1.0) : base(nameof(LocalBlock))
    {
        using (torch.NewDisposeScope())
            layer_scale = (Parameter)new Parameter(ScalarOps.Full(new long[] { dim, 1, 1 }, layerScaleInit)).DetachFromDisposeScope();
        dwconv = new RepDW(dim);
        mlp = new Ffn(dim, hiddenDim);
        drop_path = new DropPath(dropPath);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var a = dwconv.call(x);
        using var b = mlp.call(a);
        using var c = layer_scale * b;
        using var d = drop_path.call(c);
        return x.Plus(d);
    }

    /// <inheritdoc />
    public void SwitchToDeploy()
    {
        dwconv = Reparameterization.Deploy(this, nameof(dwconv), dwconv);
        mlp.SwitchToDeploy();
    }
}

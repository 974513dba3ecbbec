using MLNetExtensions.Core.Torch;
using TorchSharp;
using MLNetExtensions.Transforms.Layers;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.TinyViM;

/// <summary>
/// Mamba block (official <c>TViMBlock</c>): x₁ = x + DropPath(SS2D(x)); y = x₁ + DropPath(FFN(x₁)). No normalisation
/// before either branch (the official <c>norm_layer</c> argument is unused) and no layer scale.
/// </summary>
public sealed class TViMBlock : nn.Module<Tensor, Tensor>, IDeployable
{
    private readonly SS2D op;
    private readonly DropPath drop_path;
    private readonly Ffn mlp;

    /// <summary>Creates the block around a Laplace mixer <paramref name="mixer"/> with FFN hidden width <paramref name="hiddenDim"/>.</summary>
    public TViMBlock(int dim, SS2D mixer, int hiddenDim, double dropPath = 0.0) : base(nameof(TViMBlock))
    {
        op = mixer;
        drop_path = new DropPath(dropPath);
        mlp = new Ffn(dim, hiddenDim);
        RegisterComponents();
    }

    /// <summary>The Laplace mixer (key <c>op</c>).</summary>
    public SS2D Mixer => op;

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        Tensor x1;
        using (var m = op.call(x))
        using (var dm = drop_path.call(m))
            x1 = x.Plus(dm);
        using (x1)
        using (var f = mlp.call(x1))
        using (var df = drop_path.call(f))
            return x1.Plus(df);
    }

    /// <inheritdoc />
    public void SwitchToDeploy()
    {
        op.SwitchToDeploy();
        mlp.SwitchToDeploy();
    }
}

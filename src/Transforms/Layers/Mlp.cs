using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Layers;

/// <summary>Transformer MLP (timm/Swin <c>Mlp</c>): fc1 → GELU → dropout → fc2 → dropout. Keys <c>fc1.*</c>, <c>fc2.*</c>.</summary>
public sealed class Mlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear fc1;
    private readonly GELU act;
    private readonly Linear fc2;
    private readonly Dropout drop;

    /// <summary>Creates the MLP in → hidden → out (out defaults to in).</summary>
    public Mlp(long inFeatures, long hiddenFeatures, long? outFeatures = null, double drop = 0.0) : base(nameof(Mlp))
    {
        fc1 = nn.Linear(inFeatures, hiddenFeatures);
        act = nn.GELU();
        fc2 = nn.Linear(hiddenFeatures, outFeatures ?? inFeatures);
        this.drop = nn.Dropout(drop);
        RegisterComponents();
    }

    /// <summary>First layer (a preceding norm folds into it).</summary>
    public Linear Fc1 => fc1;

    /// <summary>Second layer.</summary>
    public Linear Fc2 => fc2;

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var h = fc1.call(x);
        using var a = act.call(h);
        using var d = drop.call(a);
        using var o = fc2.call(d);
        return drop.call(o);
    }
}

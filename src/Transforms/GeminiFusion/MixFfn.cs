using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.GeminiFusion;

/// <summary>
/// Official MiT <c>DWConv</c>: depth-wise 3×3 conv (with bias) on tokens (B, H·W, C) laid out as an H×W grid.
/// Key <c>dwconv.*</c>.
/// </summary>
public sealed class DWConv : nn.Module<Tensor, long, long, Tensor>
{
    private readonly Conv2d dwconv;

    /// <summary>Creates the conv over <paramref name="dim"/> channels (official init N(0, 2/9), bias 0).</summary>
    public DWConv(int dim) : base(nameof(DWConv))
    {
        dwconv = MitInit.Conv2d(dim, dim, 3, 1, 1, dim);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x, long h, long w)
    {
        using var scope = torch.NewDisposeScope();
        long b = x.shape[0], n = x.shape[1], c = x.shape[2];
        if (n != h * w) throw new ArgumentException($"DWConv: {n} tokens do not form a {h}×{w} grid.", nameof(x));
        var grid = x.transpose(1, 2).reshape(b, c, h, w);
        return dwconv.call(grid).flatten(2).transpose(1, 2).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Official MiT <c>Mlp</c> (Mix-FFN), shared by all modalities: fc1 → depth-wise 3×3 → GELU (erf) → dropout → fc2 →
/// dropout. Keys <c>fc1.module.*</c>, <c>dwconv.dwconv.*</c>, <c>fc2.module.*</c>.
/// </summary>
public sealed class MixFfn : nn.Module<IReadOnlyList<Tensor>, long, long, Tensor[]>
{
    private readonly ModuleParallel fc1;
    private readonly DWConv dwconv;
    private readonly GELU act;
    private readonly ModuleParallel fc2;
    private readonly Dropout drop;

    /// <summary>Creates the Mix-FFN dim → hidden → dim (official init: Linears truncated-normal std 0.02, bias 0).</summary>
    public MixFfn(int dim, int hidden, double drop = 0.0) : base(nameof(MixFfn))
    {
        fc1 = new ModuleParallel(MitInit.Linear(dim, hidden, true));
        dwconv = new DWConv(hidden);
        act = nn.GELU();
        fc2 = new ModuleParallel(MitInit.Linear(hidden, dim, true));
        this.drop = nn.Dropout(drop);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor[] forward(IReadOnlyList<Tensor> x, long h, long w)
    {
        using var scope = torch.NewDisposeScope();
        var hid = fc1.call(x).Select(t => drop.call(act.call(dwconv.call(t, h, w)))).ToArray();
        return fc2.call(hid).Select(t => drop.call(t).MoveToOuterDisposeScope()).ToArray();
    }
}

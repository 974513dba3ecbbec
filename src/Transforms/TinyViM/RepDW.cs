using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.TinyViM;

/// <summary>
/// Re-parameterisable depthwise conv (official <c>RepDW</c> for a square 3×3 kernel and <c>RepDW_Axias</c> for a
/// 1×k or k×1 kernel): y = BN(BN₀(DWConv_k(x)) + DWConv₁ₓ₁(x) + x). Keys: <c>conv.c</c>, <c>conv.bn</c>,
/// <c>conv1</c> (with bias), <c>bn</c>. Folds into one biased depthwise conv of the k kernel.
/// </summary>
public sealed class RepDW : nn.Module<Tensor, Tensor>, IFusable
{
    private readonly Conv2dBN conv;
    private readonly Conv2d conv1;
    private readonly SafeBatchNorm2d bn;
    private readonly (long H, long W) _kernel;

    /// <summary>Official <c>RepDW(ed)</c>: 3×3 depthwise kernel, padding 1.</summary>
    public RepDW(long channels) : this(channels, (3, 3)) { }

    /// <summary>Depthwise kernel of any odd size, 'same' padding (official <c>RepDW_Axias</c> with (1,k) or (k,1)).</summary>
    public RepDW(long channels, (long H, long W) kernel) : base(nameof(RepDW))
    {
        if (kernel.H % 2 == 0 || kernel.W % 2 == 0) throw new ArgumentException("RepDW kernels must have odd sizes.", nameof(kernel));
        _kernel = kernel;
        conv = new Conv2dBN(channels, channels, kernel, (1, 1), (kernel.H / 2, kernel.W / 2), groups: channels);
        conv1 = nn.Conv2d(channels, channels, 1, groups: channels, bias: true);
        bn = new SafeBatchNorm2d(channels);
        RegisterComponents();
    }

    /// <summary>Official <c>RepDW_Axias(ed, kernel_max, kernel)</c>: a 1×k (<paramref name="alongWidth"/>) or k×1 kernel.</summary>
    public static RepDW Axial(long channels, int kernelMax, bool alongWidth) =>
        new(channels, alongWidth ? (1, kernelMax) : (kernelMax, 1));

    /// <summary>Depthwise kernel size (H, W).</summary>
    public (long H, long W) Kernel => _kernel;

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var a = conv.call(x);
        using var b = conv1.call(x);
        using var s = a.Plus(b);
        using var t = s.Plus(x);
        return bn.call(t);
    }

    /// <inheritdoc />
    public Conv2d Fuse()
    {
        using var scope = torch.NewDisposeScope();
        var (w, b) = conv.FusedWeightAndBias();
        // The 1×1 branch and the identity become centre taps of the k kernel (official: F.pad of conv1.weight / ones).
        var ph = _kernel.H / 2;
        var pw = _kernel.W / 2;
        var pad = new long[] { pw, pw, ph, ph };
        var w1 = nn.functional.pad(conv1.weight!, pad);
        var id = nn.functional.pad(torch.ones_like(conv1.weight!), pad);
        var (wf, bf) = Reparameterization.FoldBatchNorm(w.Plus(w1).Plus(id), b.Plus(conv1.bias!), bn);
        return Reparameterization.MakeConv(wf, bf, (1, 1), (ph, pw), w.shape[0]);
    }
}

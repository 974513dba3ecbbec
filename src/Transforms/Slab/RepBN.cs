using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Slab;

/// <summary>
/// Re-parameterisable BatchNorm over tokens (SLAB, official <c>prepbn.RepBN</c>):
/// <c>RepBN(x) = BN(x) + alpha·x</c> for x of shape (B, N, C).
/// BN normalises each channel over all B·N tokens of the batch (a SafeBatchNorm1d on the transposed tensor);
/// <c>alpha</c> is one learnable scalar shared by all channels. State-dict keys: <c>alpha</c>, <c>bn.*</c>.
/// </summary>
/// <remarks>
/// In eval mode RepBN is the per-channel affine map <c>a⊙x + b</c> (see <see cref="GetAffine"/>), which
/// <see cref="NormFolding"/> folds into the neighbouring Linear/Conv layer.
/// </remarks>
public sealed class RepBN : nn.Module<Tensor, Tensor>, IFoldableNorm
{
    private readonly Parameter alpha;
    private readonly SafeBatchNorm1d bn;

    /// <summary>Creates a RepBN over <paramref name="channels"/> channels.</summary>
    /// <param name="channels">Channel count C (last dimension of the input).</param>
    /// <param name="eps">BN epsilon: 1e-5 in the vision code, 1e-6 (the RMSNorm eps) in the LLaMA code.</param>
    /// <param name="alphaInit">Initial alpha: 1 in the vision code, 0 in the LLaMA code.</param>
    /// <param name="zeroInitAffine">LLaMA code: BN weight and bias start at 0, so RepBN starts as the zero map.</param>
    /// <param name="momentum">BN running-statistics momentum (0.1 as PyTorch's default).</param>
    public RepBN(long channels, double eps = 1e-5, double alphaInit = 1.0, bool zeroInitAffine = false, double momentum = 0.1)
        : base(nameof(RepBN))
    {
        if (channels <= 0) throw new ArgumentOutOfRangeException(nameof(channels), "RepBN needs at least one channel.");
        Channels = channels;
        alpha = nn.Parameter(ScalarOps.Full(new long[] { 1 }, alphaInit, float32));
        bn = new SafeBatchNorm1d(channels, eps, momentum);
        if (zeroInitAffine)
        {
            using var _ = torch.no_grad();
            bn.weight.zero_();
            bn.bias!.zero_();
        }
        RegisterComponents();
    }

    /// <summary>Channel count C.</summary>
    public long Channels { get; }

    /// <summary>The learnable scalar alpha (η in the paper), shape [1].</summary>
    public Parameter Alpha => alpha;

    /// <summary>The inner BatchNorm1d (keys <c>bn.weight</c>, <c>bn.bias</c>, <c>bn.running_mean</c>, <c>bn.running_var</c>, <c>bn.num_batches_tracked</c>).</summary>
    public SafeBatchNorm1d BatchNorm => bn;

    /// <summary>Applies RepBN to x of shape (B, N, C).</summary>
    public override Tensor forward(Tensor x) => forward(x, null);

    /// <summary>
    /// Applies RepBN; in training mode, tokens whose <paramref name="padMask"/> entry is 0 are left out of the batch
    /// statistics and keep their input value in the BN branch (official LLaMA variant). The mask is ignored in eval.
    /// </summary>
    /// <param name="x">Tokens (B, N, C).</param>
    /// <param name="padMask">Optional (B, N) mask, 1 for real tokens and 0 for padding.</param>
    public Tensor forward(Tensor x, Tensor? padMask)
    {
        TokenShape.Check(x, Channels, nameof(RepBN));
        if (padMask is null || !training)
        {
            using var xt = x.transpose(1, 2);
            using var y = bn.call(xt);
            using var ax = alpha * xt;
            using var s = y.Plus(ax);
            return s.transpose(1, 2).contiguous();
        }

        if (padMask.dim() != 2 || padMask.shape[0] != x.shape[0] || padMask.shape[1] != x.shape[1])
            throw new ArgumentException($"RepBN: pad mask must have shape (B, N) = ({x.shape[0]}, {x.shape[1]}), got ({string.Join(", ", padMask.shape)}).");
        using var scope = torch.NewDisposeScope();
        var flat = x.reshape(-1, Channels);
        var idx = padMask.reshape(-1).EqualTo(1).nonzero().squeeze(1);
        var normed = bn.call(flat.index_select(0, idx));
        // Real tokens get the BN output, pads keep x (as `output = x.clone(); output[mask] = bn(...)`).
        var mixed = flat.index_copy(0, idx, normed).view(x.shape);
        return mixed.Plus(alpha * x).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The eval-mode map as a per-channel affine <c>a⊙x + b</c>, from the running statistics:
    /// a = w/√(v+ε) + alpha, b = β − w·μ/√(v+ε). Returned tensors are detached copies of shape [C].
    /// </summary>
    public (Tensor a, Tensor b) GetAffine()
    {
        using var _ = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var s = bn.running_var!.Plus(bn.eps).sqrt();
        var ws = bn.weight / s;
        var a = ws.Plus(alpha);
        var b = bn.bias! - ws * bn.running_mean!;
        return (a.detach().MoveToOuterDisposeScope(), b.detach().MoveToOuterDisposeScope());
    }
}

using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.TinyViM;

/// <summary>Which <see cref="SelectiveScan"/> implementation the mixers run.</summary>
public enum SelectiveScanMode
{
    /// <summary>
    /// Default: <see cref="SelectiveScan.Sequential"/> for short sequences (L ≤ <see cref="SS2D.AutoSequentialMaxLength"/>,
    /// e.g. TinyViM's 2×2 … 7×7 grids, where a few steps cost less than the chunked machinery on CPU), else
    /// <see cref="SelectiveScan.Chunked"/>.
    /// </summary>
    Auto,
    /// <summary><see cref="SelectiveScan.Chunked"/>.</summary>
    Chunked,
    /// <summary><see cref="SelectiveScan.Sequential"/> (reference loop).</summary>
    Sequential,
}

/// <summary>
/// TinyViM's Laplace mixer (official <c>SS2D</c> in <c>tvimblock.py</c>, module name <c>op</c>):
/// <c>in_proj</c> (Conv2d_BN 1×1) → <c>conv2d</c> (Rep_Inception) → SiLU → channel split into a low part
/// (⌊c·r⌋ channels) and a high part. High: <c>local_conv</c> (RepDW 3×3). Low: average-pool by s to the 1/32 grid,
/// 4-direction selective scan + LayerNorm (<see cref="ForwardSsm"/>) on the pooled map, bilinear up-sampling, plus the
/// Laplacian detail band (input − nearest-up-sampled pool); with s = 1 (last stage) the scan runs on the map directly.
/// Concat (low first) → <c>out_proj</c> (Conv2d_BN 1×1). No gate, no pre-norm.
/// </summary>
public sealed class SS2D : nn.Module<Tensor, Tensor>, IDeployable
{
    private const int K = 4;

    // Declared in the official registration order (state_dict order: own parameters first, then children).
    private readonly Parameter x_proj_weight;
    private readonly Parameter dt_projs_weight;
    private readonly Parameter dt_projs_bias;
    private readonly Parameter A_logs;
    private readonly Parameter Ds;
    private nn.Module<Tensor, Tensor> local_conv;
    private readonly LayerNorm out_norm;
    private nn.Module<Tensor, Tensor> in_proj;
    private readonly RepInception conv2d;
    private nn.Module<Tensor, Tensor> out_proj;

    private readonly int _pool;
    private readonly long[] _split;
    private readonly int _dtRank;
    private readonly int _dState;

    /// <summary>
    /// Creates the mixer for block width <paramref name="dModel"/>, stage pool factor <paramref name="pool"/> and
    /// low-frequency share <paramref name="lowFreqRatio"/>. Parameters of the SSM get the official initialisation
    /// (S4D-real A, D = 1, Δ bias = softplus⁻¹ of log-uniform [1e-3, 1e-1], uniform projections).
    /// </summary>
    public SS2D(int dModel, int pool, double lowFreqRatio, int dState = 8, double ssmRatio = 1.0, int? dtRank = null,
        int kernelMax = 7) : base(nameof(SS2D))
    {
        var dExpand = (int)(ssmRatio * dModel);
        var dInner = (int)(dExpand * lowFreqRatio);
        if (dInner < 1 || dInner >= dExpand)
            throw new ArgumentException($"Low-frequency share {lowFreqRatio} of {dExpand} channels leaves an empty branch.", nameof(lowFreqRatio));
        if (pool < 1) throw new ArgumentOutOfRangeException(nameof(pool), pool, "Pool factor must be ≥ 1.");
        _pool = pool;
        _split = [dInner, dExpand - dInner];
        _dtRank = dtRank ?? (int)Math.Ceiling(dModel / 16.0); // official "auto": block width, not dInner
        _dState = dState;
        D = dInner;

        using (torch.no_grad())
        using (torch.NewDisposeScope())
        {
            var xBound = 1.0 / Math.Sqrt(dInner); // nn.Linear default init of the K temporary x_proj layers
            x_proj_weight = MakeParameter(torch.empty(K, _dtRank + 2 * dState, dInner).uniform_(-xBound, xBound));
            var dtStd = Math.Pow(_dtRank, -0.5);
            dt_projs_weight = MakeParameter(torch.empty(K, dInner, _dtRank).uniform_(-dtStd, dtStd));
            var dt = torch.rand(K, dInner).Times(Math.Log(0.1) - Math.Log(1e-3)).Plus(Math.Log(1e-3)).exp().ClampMin(1e-4);
            dt_projs_bias = MakeParameter(dt.Plus((-torch.expm1(-dt)).log())); // softplus⁻¹(dt)
            A_logs = MakeParameter(ScalarOps.Arange(1, dState + 1, 1, dtype: ScalarType.Float32).log()
                .unsqueeze(0).repeat(K * dInner, 1).contiguous());
            Ds = MakeParameter(torch.ones(K * dInner));
        }

        local_conv = new RepDW(dExpand - dInner);
        out_norm = nn.LayerNorm([dInner], eps: 1e-5);
        in_proj = new Conv2dBN(dModel, dExpand);
        conv2d = new RepInception(dExpand, kernelMax);
        out_proj = new Conv2dBN(dExpand, dModel);
        RegisterComponents();
    }

    private static Parameter MakeParameter(Tensor t) => (Parameter)new Parameter(t).DetachFromDisposeScope();

    /// <summary>Channels of the low-frequency (Mamba) branch, d_inner.</summary>
    public int D { get; }

    /// <summary>Average-pool factor of the low branch (1 = no pooling).</summary>
    public int Pool => _pool;

    /// <summary>Which scan implementation <see cref="ForwardSsm"/> uses.</summary>
    public SelectiveScanMode ScanMode { get; set; } = SelectiveScanMode.Auto;

    /// <summary>Longest sequence that <see cref="SelectiveScanMode.Auto"/> scans sequentially.</summary>
    public const int AutoSequentialMaxLength = 64;

    /// <summary>Chunk length passed to <see cref="SelectiveScan.Chunked"/>.</summary>
    public int ChunkSize { get; set; } = 8;

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        if (x.dim() != 4) throw new ArgumentException($"SS2D expects (batch, channels, H, W); got [{string.Join(", ", x.shape)}].", nameof(x));
        var (h, w) = (x.shape[2], x.shape[3]);
        if (h % _pool != 0 || w % _pool != 0)
            throw new ArgumentException($"SS2D with pool factor {_pool} needs H and W divisible by {_pool}; got {h}×{w}.", nameof(x));

        using var scope = torch.NewDisposeScope();
        var z = nn.functional.silu(conv2d.call(in_proj.call(x)));
        var parts = z.split(_split, 1);
        var low = parts[0];
        var high = local_conv.call(parts[1]);
        if (_pool > 1)
        {
            var pooled = nn.functional.avg_pool2d(low, [_pool, _pool], [_pool, _pool]);
            // Laplacian detail band: what the pooled map cannot represent; it bypasses the scan.
            var detail = low - nn.functional.interpolate(pooled, [h, w], mode: InterpolationMode.Nearest);
            var scanned = ForwardSsm(pooled);
            low = nn.functional.interpolate(scanned, [h, w], mode: InterpolationMode.Bilinear, align_corners: false).Plus(detail);
        }
        else
        {
            low = ForwardSsm(low);
        }
        return out_proj.call(torch.cat([low, high], 1)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The Mamba part (official <c>cross_selective_scan</c> + <c>out_norm</c>) on a (B, D, h, w) map: four scan orders
    /// (row-major, column-major, both reversed), per-direction x/Δ projections, selective scan over all 4·D
    /// channel-sequences, merge back to row-major positions by summation, LayerNorm over channels.
    /// </summary>
    /// <returns>(B, D, h, w).</returns>
    public Tensor ForwardSsm(Tensor x)
    {
        if (x.dim() != 4 || x.shape[1] != D)
            throw new ArgumentException($"The SSM expects (batch, {D}, h, w); got [{string.Join(", ", x.shape)}].", nameof(x));
        using var scope = torch.NewDisposeScope();
        var (b, h, w) = (x.shape[0], x.shape[2], x.shape[3]);
        var l = h * w;
        var rowMajor = x.flatten(2);                                                     // (B, D, L)
        var colMajor = x.transpose(2, 3).flatten(2);
        var xs = torch.stack([rowMajor, colMajor, rowMajor.flip(-1), colMajor.flip(-1)], 1); // (B, K, D, L)

        var xDbl = torch.matmul(x_proj_weight, xs);                                     // (B, K, R+2N, L)
        var pieces = xDbl.split([_dtRank, _dState, _dState], 2);
        var dts = torch.matmul(dt_projs_weight, pieces[0]);                             // (B, K, D, L)
        var As = A_logs.exp().neg();

        var u = xs.reshape(b, K * D, l);
        var delta = dts.reshape(b, K * D, l);
        var bias = dt_projs_bias.reshape(-1);
        var sequential = ScanMode == SelectiveScanMode.Sequential ||
                         (ScanMode == SelectiveScanMode.Auto && l <= AutoSequentialMaxLength);
        var ys = sequential
            ? SelectiveScan.Sequential(u, delta, As, pieces[1], pieces[2], Ds, bias, deltaSoftplus: true)
            : SelectiveScan.Chunked(u, delta, As, pieces[1], pieces[2], Ds, bias, deltaSoftplus: true, chunkSize: ChunkSize);
        ys = ys.view(b, K, D, l);

        // Cross merge: flip the reversed directions back; the column-major ones are laid out (w, h) → transpose.
        var fwd = ys.select(1, 0).Plus(ys.select(1, 2).flip(-1));
        var col = ys.select(1, 1).Plus(ys.select(1, 3).flip(-1)).view(b, D, w, h).transpose(2, 3).reshape(b, D, l);
        var merged = fwd.Plus(col).transpose(1, 2);                                       // (B, L, D)
        var y = out_norm.call(merged).view(b, h, w, D).permute(0, 3, 1, 2);
        return y.MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public void SwitchToDeploy()
    {
        in_proj = Reparameterization.Deploy(this, nameof(in_proj), in_proj);
        conv2d.SwitchToDeploy();
        local_conv = Reparameterization.Deploy(this, nameof(local_conv), local_conv);
        out_proj = Reparameterization.Deploy(this, nameof(out_proj), out_proj);
    }
}

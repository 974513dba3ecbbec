using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Torch;

/// <summary>
/// BatchNorm whose training forward cannot hand LibTorch a freed Scalar. TorchSharp 0.107's <c>BatchNorm.forward</c>
/// counts batches with <c>num_batches_tracked.add_(1)</c>: two temporary <see cref="Scalar"/>s whose native handles are
/// read and then left to the finalizer without <c>GC.KeepAlive</c>, so a garbage collection triggered by another thread
/// (our read-ahead data threads allocate) can free them before LibTorch reads them. Seen twice on this project's CPU runs
/// as "Unknown scalar type" / "argument alpha must not be a floating point number" thrown from BatchNorm.forward.
/// This class computes the same thing with Scalars that live for the whole process; the state-dict entries
/// (<c>weight</c>, <c>bias</c>, <c>running_mean</c>, <c>running_var</c>, <c>num_batches_tracked</c>) are TorchSharp's.
/// </summary>
public abstract class SafeBatchNorm : TorchSharp.Modules.BatchNorm
{
    // Rooted by the static field, so never finalised while LibTorch reads it.
    private static readonly Scalar One = 1L;

    /// <summary>Creates the norm (PyTorch defaults: eps 1e-5, momentum 0.1, affine, tracking running statistics).</summary>
    protected SafeBatchNorm(long numFeatures, double eps, double momentum, bool affine, bool trackRunningStats, string name)
        : base(numFeatures, eps, momentum, affine, trackRunningStats, null, null, name) { }

    /// <summary>PyTorch's <c>_BatchNorm.forward</c>: momentum null gives the cumulative average 1/num_batches_tracked.</summary>
    public override Tensor forward(Tensor input)
    {
        ValidateInputDimensions(input);
        double factor = momentum ?? 0.0;
        if (training && track_running_stats && num_batches_tracked is not null)
        {
            num_batches_tracked.add_(One, One);
            if (momentum is null) factor = 1.0 / num_batches_tracked.item<long>();
        }
        bool batchStatistics = training || (running_mean is null && running_var is null);
        bool passRunning = !training || track_running_stats;
        return nn.functional.batch_norm(input, passRunning ? running_mean : null, passRunning ? running_var : null,
            weight, bias, batchStatistics, factor, eps);
    }

    /// <summary>Throws naming the expected input rank.</summary>
    protected void CheckRank(Tensor input, params long[] ranks)
    {
        if (!ranks.Contains(input.dim()))
            throw new ArgumentException($"{GetName()}: expected a {string.Join(" or ", ranks)}-D input; got {input.dim()}-D.", nameof(input));
    }
}

/// <summary>BatchNorm over (N, C) or (N, C, L) inputs (see <see cref="SafeBatchNorm"/>).</summary>
public sealed class SafeBatchNorm1d : SafeBatchNorm
{
    /// <summary>Creates the norm.</summary>
    public SafeBatchNorm1d(long numFeatures, double eps = 1e-5, double momentum = 0.1, bool affine = true, bool trackRunningStats = true)
        : base(numFeatures, eps, momentum, affine, trackRunningStats, nameof(SafeBatchNorm1d)) { }

    /// <inheritdoc/>
    protected override void ValidateInputDimensions(Tensor input) => CheckRank(input, 2, 3);
}

/// <summary>BatchNorm over (N, C, H, W) inputs (see <see cref="SafeBatchNorm"/>).</summary>
public sealed class SafeBatchNorm2d : SafeBatchNorm
{
    /// <summary>Creates the norm.</summary>
    public SafeBatchNorm2d(long numFeatures, double eps = 1e-5, double momentum = 0.1, bool affine = true, bool trackRunningStats = true)
        : base(numFeatures, eps, momentum, affine, trackRunningStats, nameof(SafeBatchNorm2d)) { }

    /// <inheritdoc/>
    protected override void ValidateInputDimensions(Tensor input) => CheckRank(input, 4);
}

/// <summary>BatchNorm over (N, C, D, H, W) inputs (see <see cref="SafeBatchNorm"/>).</summary>
public sealed class SafeBatchNorm3d : SafeBatchNorm
{
    /// <summary>Creates the norm.</summary>
    public SafeBatchNorm3d(long numFeatures, double eps = 1e-5, double momentum = 0.1, bool affine = true, bool trackRunningStats = true)
        : base(numFeatures, eps, momentum, affine, trackRunningStats, nameof(SafeBatchNorm3d)) { }

    /// <inheritdoc/>
    protected override void ValidateInputDimensions(Tensor input) => CheckRank(input, 5);
}

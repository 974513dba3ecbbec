using MLNetExtensions.Core.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Examples.SweepsDistributed;

/// <summary>Options of the example's trial: a one-hidden-layer MLP on two noisy Gaussian blobs.</summary>
public sealed class MlpOptions
{
    /// <summary>AdamW learning rate. Default 1e-2.</summary>
    public double LearningRate { get; set; } = 1e-2;
    /// <summary>Hidden units. Default 32.</summary>
    public int Hidden { get; set; } = 32;
    /// <summary>Full-batch training steps. Default 150.</summary>
    public int Steps { get; set; } = 150;
}

/// <summary>
/// One small real TorchSharp training: data and initial weights from a generator seeded with the trial's seed (not the
/// process-wide generator, so concurrent trials in one worker stay deterministic), full-batch AdamW steps, the
/// validation cross-entropy as the metric (lower is better).
/// </summary>
public static class MlpTrial
{
    public static double Run(MlpOptions o, int seed, CancellationToken ct)
    {
        using var outer = NewDisposeScope();
        using var g = new Generator((ulong)seed);
        var (xTrain, yTrain) = Blobs(2048, g);
        var (xValid, yValid) = Blobs(1024, g);
        using var initScale = (1.0 / Math.Sqrt(20)).ToScalar();
        var w1 = new TorchSharp.Modules.Parameter(randn(20, o.Hidden, generator: g).mul_(initScale));
        var b1 = new TorchSharp.Modules.Parameter(zeros(o.Hidden));
        using var outScale = (1.0 / Math.Sqrt(o.Hidden)).ToScalar();
        var w2 = new TorchSharp.Modules.Parameter(randn(o.Hidden, 2, generator: g).mul_(outScale));
        var b2 = new TorchSharp.Modules.Parameter(zeros(2));
        using var optimizer = new RootedAdamW(new TorchSharp.Modules.Parameter[] { w1, b1, w2, b2 }, o.LearningRate);
        Tensor Forward(Tensor x) => x.matmul(w1).add(b1).relu().matmul(w2).add(b2);
        for (int step = 0; step < o.Steps; step++)
        {
            ct.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(Forward(xTrain), yTrain);
            loss.backward();
            optimizer.step();
        }
        using (no_grad())
            return nn.functional.cross_entropy(Forward(xValid), yValid).item<float>();
    }

    // Two classes in 20 dimensions, means ±0.25 apart in every coordinate, unit noise: hard enough that the rate matters.
    private static (Tensor X, Tensor Y) Blobs(int n, Generator g)
    {
        var y = randint(0, 2, new long[] { n }, dtype: ScalarType.Int64, generator: g);
        var sign = y.to_type(ScalarType.Float32).mul(tensor(0.5f)).sub(tensor(0.25f)).unsqueeze(1);
        var x = randn(n, 20, generator: g).add(sign);
        return (x, y);
    }
}

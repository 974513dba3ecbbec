using MLNetExtensions.Core.Torch;
using MLNetExtensions.Transforms.Excp;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Excp;

/// <summary>A real TorchSharp MLP trained with Adam on a learnable synthetic task (random inputs, random teacher labels).</summary>
internal sealed class MlpTraining : IDisposable
{
    public readonly Sequential Model;
    public readonly OptimizerHelper Optimizer;
    private readonly Tensor _x, _y;
    private readonly int _batch;
    public long Step { get; private set; }

    public MlpTraining(int seed, int[] sizes, double lr = 1e-3, double beta2 = 0.95, int samples = 2048, int batch = 128, bool adamW = false, int dataSeed = 0, double labelNoise = 0.5)
    {
        torch.manual_seed(seed);
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>();
        for (int i = 0; i + 1 < sizes.Length; i++)
        {
            layers.Add(($"{2 * i}", nn.Linear(sizes[i], sizes[i + 1])));
            if (i + 2 < sizes.Length) layers.Add(($"{2 * i + 1}", nn.ReLU()));
        }
        Model = nn.Sequential(layers);
        // Rooted copies of TorchSharp's AdamW/Adam (same update and state types), so GC-torture runs test the product, not TorchSharp.
        Optimizer = adamW ? new RootedAdamW(Model.parameters(), lr, 0.9, beta2) : new RootedAdam(Model.parameters(), lr, 0.9, beta2);
        torch.manual_seed(1000 + dataSeed); // the task does not depend on the model's init seed
        _x = randn(samples, sizes[0]);
        using var teacher = randn(sizes[0], sizes[^1]);
        // Teacher logits have unit scale; label noise keeps the task from being memorised within a few epochs.
        _y = (_x.matmul(teacher) / Math.Sqrt(sizes[0]) + labelNoise * randn(samples, sizes[^1])).argmax(1);
        _batch = batch;
    }

    /// <summary>Runs <paramref name="steps"/> Adam steps with a fixed batch order; returns the mean loss.</summary>
    public double Train(int steps)
    {
        double total = 0;
        for (int s = 0; s < steps; s++)
        {
            using var scope = NewDisposeScope();
            long n = _x.shape[0], start = Step * _batch % n;
            var xb = _x.narrow(0, start, Math.Min(_batch, n - start));
            var yb = _y.narrow(0, start, Math.Min(_batch, n - start));
            Optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(Model.forward(xb), yb);
            loss.backward();
            Optimizer.step();
            total += loss.item<float>();
            Step++;
        }
        return total / steps;
    }

    public double Loss()
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        return nn.functional.cross_entropy(Model.forward(_x), _y).item<float>();
    }

    public TrainingCheckpoint Capture() => TorchCheckpointAdapter.Capture(Model, Optimizer, Step);

    public void Dispose() { Model.Dispose(); _x.Dispose(); _y.Dispose(); }
}

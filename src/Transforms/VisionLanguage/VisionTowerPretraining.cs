using MLNetExtensions.Core.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.VisionLanguage;

/// <summary>Pre-trains the <see cref="ConvVisionTower"/> as a Fashion-MNIST classifier (note §5.2: Adam 3e-3, batches of 128).</summary>
public static class VisionTowerPretraining
{
    /// <summary>Trains a fresh tower on items (n × 784 in [0,1]) and labels 0–9 for <paramref name="steps"/> batches drawn
    /// with replacement; returns it in eval mode. Deterministic for a seed.</summary>
    public static ConvVisionTower Train(float[] pixels, byte[] labels, int steps = 940, int batchSize = 128, double learningRate = 3e-3, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.Length == 0 || pixels.Length != labels.Length * 784)
            throw new ArgumentException($"Expected 784 pixels per label; got {pixels.Length} pixels for {labels.Length} labels.", nameof(pixels));
        if (steps < 0) throw new ArgumentOutOfRangeException(nameof(steps), steps, "VisionTowerPretrainSteps must be ≥ 0.");
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "The tower's batch size must be ≥ 1.");
        torch.manual_seed(seed);
        var tower = new ConvVisionTower();
        using var items = tensor(pixels, new long[] { labels.Length, 1, 28, 28 });
        using var targets = tensor(labels.Select(l => (long)l).ToArray());
        using var opt = new RootedAdamW(tower.parameters(), learningRate);
        var rng = new Random(seed);
        tower.train();
        for (int step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            var idx = tensor(Enumerable.Range(0, batchSize).Select(_ => (long)rng.Next(labels.Length)).ToArray());
            var loss = nn.functional.cross_entropy(tower.Classify(items.index_select(0, idx)), targets.index_select(0, idx));
            opt.zero_grad(); loss.backward(); opt.step();
        }
        tower.eval();
        return tower;
    }

    /// <summary>Item classification accuracy of a tower.</summary>
    public static double Accuracy(ConvVisionTower tower, float[] pixels, byte[] labels)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        tower.eval();
        var pred = tower.Classify(tensor(pixels, new long[] { labels.Length, 1, 28, 28 })).argmax(1).data<long>().ToArray();
        return pred.Select((p, i) => p == labels[i] ? 1.0 : 0.0).Average();
    }
}

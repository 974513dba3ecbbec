using MLNetExtensions.Transforms.Datasets.Scenes;
using MLNetExtensions.Transforms.Segmentation;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.PyBridge;
using static TorchSharp.torch;
using MLNetExtensions.Transforms.Ssa;

namespace MLNetExtensions.Examples.SsaScenes;

/// <summary>
/// Stand-in for the ImageNet pretraining every SSA result starts from: the segmenter's <see cref="ConvPyramidBackbone"/>
/// learns Fashion-MNIST item classification (one item per 64×64 canvas, items from the train split only) with global
/// average pooling + a linear layer on its last map. The backbone is saved with the segmentation network's key names
/// (<c>backbone.*</c>), so both heads start from the same weights through <c>PretrainedWeightsPath</c>.
/// </summary>
internal static class BackbonePretraining
{
    /// <summary>Holds the backbone under the field name the segmentation network uses, so saved keys match.</summary>
    private sealed class BackboneHolder : nn.Module
    {
        private readonly ConvPyramidBackbone backbone;
        public BackboneHolder(ConvPyramidBackbone b) : base(nameof(BackboneHolder)) { backbone = b; RegisterComponents(); }
    }

    /// <summary>Trains for <paramref name="steps"/> AdamW steps and writes <c>backbone.*</c> to <paramref name="path"/>; returns held-out accuracy.</summary>
    public static double Run(string path, ConvPyramidConfig config, float[] mean, float[] std, int steps, int batch, int seed, Action<string> log)
    {
        torch.manual_seed(seed);
        var ml = new Microsoft.ML.MLContext(seed);
        var train = FashionScenes.Create(ml, new FashionSceneOptions { Count = steps * batch, Seed = 1000 + seed, MinItems = 1, MaxItems = 1 });
        var held = FashionScenes.Create(ml, new FashionSceneOptions { Count = 500, Seed = 2000 + seed, MinItems = 1, MaxItems = 1 });
        using var backbone = new ConvPyramidBackbone(config);
        using var fc = nn.Linear(config.Widths[3], 10);
        var parameters = backbone.parameters().Concat(fc.parameters()).ToList();
        using var opt = optim.AdamW(parameters, 3e-3, weight_decay: 0.01);
        using var meanT = torch.tensor(mean, new long[] { 1, 3, 1, 1 });
        using var stdT = torch.tensor(std, new long[] { 1, 3, 1, 1 });
        Tensor Logits(Tensor x) => fc.call(backbone.call((x - meanT) / stdT)[3].mean(new long[] { 2, 3 }));
        (Tensor X, Tensor Y) Batch(FashionScenes g, long first, int n)
        {
            var scenes = Enumerable.Range(0, n).Select(i => g.Generate(first + i)).ToArray();
            return (torch.tensor(scenes.SelectMany(s => s.Image).ToArray(), new long[] { n, 3, 64, 64 }),
                    torch.tensor(scenes.Select(s => (long)s.Items[0].FashionLabel).ToArray()));
        }
        backbone.train(); fc.train();
        double lossSum = 0;
        for (int step = 0; step < steps; step++)
        {
            using var scope = torch.NewDisposeScope();
            foreach (var g in opt.ParamGroups) g.LearningRate = 3e-3 * 0.5 * (1 + Math.Cos(Math.PI * step / steps)); // cosine
            var (x, y) = Batch(train, (long)step * batch, batch);
            opt.zero_grad();
            var loss = nn.functional.cross_entropy(Logits(x), y);
            loss.backward();
            opt.step();
            lossSum += loss.item<float>();
            if ((step + 1) % 100 == 0) { log($"  pretrain step {step + 1}/{steps}: loss {lossSum / 100:F3}"); lossSum = 0; }
        }
        backbone.eval(); fc.eval();
        int correct = 0;
        using (torch.no_grad())
            for (int i = 0; i < 500; i += 100)
            {
                using var scope = torch.NewDisposeScope();
                var (x, y) = Batch(held, i, 100);
                correct += (int)Logits(x).argmax(1).eq(y).sum().item<long>();
            }
        var holder = new BackboneHolder(backbone); // disposed with the backbone
        holder.save_py(path);
        return correct / 500.0;
    }
}

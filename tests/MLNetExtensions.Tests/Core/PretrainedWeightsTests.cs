using MLNetExtensions.Core.Training;
using TorchSharp;
using TorchSharp.PyBridge;
using Xunit;

namespace MLNetExtensions.Tests.Core;

/// <summary>The model-agnostic pretrained loader with the image trainers' default head rule.</summary>
public sealed class PretrainedWeightsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mlnetext-pretrained-").FullName;

    private static bool Same(torch.Tensor a, torch.Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static torch.nn.Module<torch.Tensor, torch.Tensor> Net(int hidden, int classes) =>
        torch.nn.Sequential(("0", torch.nn.Linear(4, hidden)), ("1", torch.nn.ReLU()), ("2", torch.nn.Linear(hidden, classes)));

    [Fact]
    public void SkipsOnlyTheClassifierOutputsWhenTheClassCountDiffers()
    {
        torch.manual_seed(1);
        var path = Path.Combine(_dir, "three.pt");
        using (var source = Net(8, 3)) source.save_py(path);
        using var source2 = Net(8, 3);
        source2.load_py(path, strict: true);

        using var five = Net(8, 5);
        var report = PretrainedWeights.Load(five, path, PretrainedWeights.ClassifierOutputs(5));
        Assert.Equal(new[] { "0.bias", "0.weight" }, report.Loaded.OrderBy(k => k));
        Assert.Equal(new[] { "2.bias", "2.weight" }, report.SkippedHead.Select(s => s.Key).OrderBy(k => k));
        Assert.True(Same(source2.state_dict()["0.weight"], five.state_dict()["0.weight"]));

        using var wider = Net(6, 5);
        var e = Assert.Throws<ArgumentException>(() => PretrainedWeights.Load(wider, path, PretrainedWeights.ClassifierOutputs(5)));
        Assert.Contains("'0.weight'", e.Message);
        Assert.Contains("[8,4]", e.Message);
        Assert.Contains("[6,4]", e.Message);

        Assert.Throws<FileNotFoundException>(() => PretrainedWeights.Load(five, Path.Combine(_dir, "absent.pt"), PretrainedWeights.ClassifierOutputs(5)));
    }
}

using MLNetExtensions.Tests.Infrastructure;
using MLNetExtensions.Transforms.Ssa;
using TorchSharp;
using TorchSharp.PyBridge;
using Xunit;
using MLNetExtensions.Transforms.Segmentation;

namespace MLNetExtensions.Tests.Ssa;

/// <summary>Official SSA state dicts carry <c>ssa_loss.criterion.empty_weight</c>; the head loads them strictly.</summary>
public class SsaOfficialStateDictTests
{
    [Fact]
    public void TheHeadCarriesTheOfficialEmptyWeightBuffer()
    {
        using var head = new SsaHead(new SsaHeadConfig(8, 5));
        var w = head.state_dict()["ssa_loss.criterion.empty_weight"];
        Assert.Equal(new float[] { 1, 1, 1, 1, 1, 0.1f }, w.data<float>().ToArray());
    }

    [ParityFact]
    public void AnOfficialStyleStateDictLoadsStrictly()
    {
        // The fixture weights plus the buffer an official checkpoint has, as one PyTorch state-dict file.
        var path = Path.Combine(Path.GetTempPath(), $"ssa-official-{Guid.NewGuid():N}.pt");
        try
        {
            using (var source = SsaParityTests.LoadFixtureHead()) source.save_py(path);
            using var head = new SsaHead(SsaHeadConfig.Fixture);
            head.load_py(path, strict: true);
            using var reference = SsaParityTests.LoadFixtureHead();
            foreach (var (k, v) in reference.state_dict())
                Assert.True(v.allclose(head.state_dict()[k], 0, 0), $"tensor '{k}' differs after the strict load");
            // A state dict without it is refused by a strict load (the buffer is part of the official key set).
            using var fresh = new SsaHead(SsaHeadConfig.Fixture);
            Assert.ThrowsAny<Exception>(() => fresh.load_py(SharedData.Parity("ssa", "weights.pt"), strict: true));
        }
        finally { if (File.Exists(path)) File.Delete(path); }
    }
}

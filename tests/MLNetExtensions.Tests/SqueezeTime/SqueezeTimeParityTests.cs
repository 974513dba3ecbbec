using MLNetExtensions.Tests.Infrastructure;
using MLNetExtensions.Transforms.SqueezeTime;
using TorchSharp;
using TorchSharp.PyBridge;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.SqueezeTime;

/// <summary>Parity with golden tensors produced by the official PyTorch SqueezeTime code (shared/parity/squeezetime).</summary>
public class SqueezeTimeParityTests
{
    private const double Atol = 1e-4;
    private readonly ITestOutputHelper output;

    public SqueezeTimeParityTests(ITestOutputHelper output) => this.output = output;

    private double Close(Tensor expected, Tensor actual, string what)
    {
        var max = SharedData.AssertClose(expected, actual, Atol, what);
        output.WriteLine($"{what}: max abs error {max:E2}");
        return max;
    }

    [ParityFact]
    public void FullModelMatchesOfficialLogitsAndStageOutputs()
    {
        using var scope = NewDisposeScope();
        using var model = new SqueezeTimeModel(SqueezeTimeConfig.ParityFixture);
        model.load_py(SharedData.Parity("squeezetime", "weights.pt"), strict: true);
        model.eval();
        var input = SharedData.Tensor("squeezetime", "input.npy");
        using var _ = inference_mode();

        var stages = model.ForwardIntermediates(input);
        var names = new[] { "stem", "layer1", "layer2", "layer3", "layer4" };
        for (var i = 0; i < names.Length; i++)
            Close(SharedData.Tensor("squeezetime", names[i] + ".npy"), stages[i], names[i]);
        Close(SharedData.Tensor("squeezetime", "layer4.npy"), model.ForwardFeatures(input), "ForwardFeatures");
        Close(SharedData.Tensor("squeezetime", "output.npy"), model.call(input), "logits");
    }

    [ParityFact]
    public void CtlBottleneckBlockMatchesOfficial()
    {
        using var scope = NewDisposeScope();
        // One stride-2 Bottleneck: in 16, planes 8 (out 32), pos_dim 5 resized to the 6×5 map.
        using var block = new CtlBottleneck(16, 8, stride: 2, withShortcut: true, posDim: 5);
        block.load_py(SharedData.Parity("squeezetime", "ctl_block", "weights.pt"), strict: true);
        block.eval();
        var input = SharedData.Tensor("squeezetime", "ctl_block", "input.npy");
        using var _ = inference_mode();

        Close(SharedData.Tensor("squeezetime", "ctl_block", "output.npy"), block.call(input), "ctl_block output");
        var ctlInput = block.CtlInput(input);
        Close(SharedData.Tensor("squeezetime", "ctl_block", "ctl_input.npy"), ctlInput, "ctl_block ctl_input");
        Close(SharedData.Tensor("squeezetime", "ctl_block", "ctl_output.npy"), block.Ctl.call(ctlInput), "ctl_block ctl_output");
        Close(SharedData.Tensor("squeezetime", "ctl_block", "temporal_importance_beta.npy"),
            block.Ctl.TemporalImportance(ctlInput), "ctl_block beta");
    }

    [ParityFact]
    public void CtlModuleAndBothBranchesMatchOfficial()
    {
        using var scope = NewDisposeScope();
        // CTL 12→10 with a 7×7 embedding resized to the 10×5 map (H up-sampled, W down-sampled).
        using var ctl = new ChannelTimeLearning(12, 10, posDim: 7);
        ctl.load_py(SharedData.Parity("squeezetime", "ctl_module", "weights.pt"), strict: true);
        ctl.eval();
        var input = SharedData.Tensor("squeezetime", "ctl_module", "input.npy");
        using var _ = inference_mode();

        Close(SharedData.Tensor("squeezetime", "ctl_module", "output.npy"), ctl.call(input), "ctl_module output");
        Close(SharedData.Tensor("squeezetime", "ctl_module", "beta.npy"), ctl.TemporalImportance(input), "ctl_module beta");
        var (tfc, ioi) = ctl.ForwardBranches(input);
        Close(SharedData.Tensor("squeezetime", "ctl_module", "tfc_branch.npy"), tfc, "ctl_module tfc_branch");
        Close(SharedData.Tensor("squeezetime", "ctl_module", "ioi_branch.npy"), ioi, "ctl_module ioi_branch");
    }

    [ParityFact]
    public void StateDictKeysAndShapesEqualTheOfficialOnes()
    {
        using var model = new SqueezeTimeModel(SqueezeTimeConfig.ParityFixture);
        using var doc = SharedData.Fixture("squeezetime", "fixture.json");
        var expected = doc.RootElement.GetProperty("state_dict").EnumerateArray()
            .Select(e => $"{e.GetProperty("key").GetString()} [{string.Join(",", e.GetProperty("shape").EnumerateArray().Select(v => v.GetInt64()))}]")
            .OrderBy(s => s, StringComparer.Ordinal).ToList();
        var actual = model.state_dict()
            .Select(kv => $"{kv.Key} [{string.Join(",", kv.Value.shape)}]")
            .OrderBy(s => s, StringComparer.Ordinal).ToList();
        Assert.Equal(expected, actual);
        Assert.Equal(273, actual.Count);
        var parameters = model.parameters().Sum(p => p.numel());
        Assert.Equal(doc.RootElement.GetProperty("weights").GetProperty("num_parameters").GetInt64(), parameters);
    }

    [ParityFact]
    public void FrameMajorSqueezeChangesTheOfficialOutput()
    {
        // Checkpoints expect colour-major channels (c·T + t); feeding frames-first data must not silently give the same logits.
        using var scope = NewDisposeScope();
        using var model = new SqueezeTimeModel(SqueezeTimeConfig.ParityFixture);
        model.load_py(SharedData.Parity("squeezetime", "weights.pt"), strict: true);
        model.eval();
        var input = SharedData.Tensor("squeezetime", "input.npy");
        using var _ = inference_mode();
        // Reinterpret the frame-major squeeze (t·C + c) as an NCTHW clip: same values, other channel order.
        var frameMajor = input.permute(0, 2, 1, 3, 4).reshape(2, 24, 64, 64).reshape(new long[] { 2, 3, 8, 64, 64 });
        var diff = (model.call(frameMajor) - SharedData.Tensor("squeezetime", "output.npy")).abs().max().item<float>();
        output.WriteLine($"frame-major squeeze: max logit change {diff:E2}");
        Assert.True(diff > 1e-3, $"frame-major input changed logits by only {diff:E2}");
    }
}

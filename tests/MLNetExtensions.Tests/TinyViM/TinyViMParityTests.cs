using MLNetExtensions.Tests.Infrastructure;
using MLNetExtensions.Transforms.TinyViM;
using TorchSharp;
using TorchSharp.PyBridge;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.TinyViM;

/// <summary>Parity with the official PyTorch code (fixtures in ../shared/parity/tinyvim, tolerance 1e-4).</summary>
public sealed class TinyViMParityTests
{
    private const double Atol = 1e-4;
    private readonly ITestOutputHelper _out;

    public TinyViMParityTests(ITestOutputHelper output) => _out = output;

    private static TinyViMModel LoadFixtureModel()
    {
        var model = new TinyViMModel(TinyViMConfig.Tiny, numClasses: 10, distillation: true);
        model.load_py(SharedData.Parity("tinyvim", "weights.pt"), strict: true);
        model.eval();
        return model;
    }

    [ParityFact]
    public void FullModel_MatchesOfficialOutput_WithBothScans()
    {
        using var scope = torch.NewDisposeScope();
        using var model = LoadFixtureModel();
        var input = SharedData.Tensor("tinyvim", "input.npy");
        var expected = SharedData.Tensor("tinyvim", "output.npy");
        using var _ = torch.inference_mode();
        foreach (var mode in new[] { SelectiveScanMode.Chunked, SelectiveScanMode.Sequential })
        {
            model.ScanMode = mode;
            var err = SharedData.AssertClose(expected, model.call(input), Atol, $"logits ({mode})");
            _out.WriteLine($"full model ({mode} scan): max abs err {err:E3}");
        }
    }

    [ParityFact]
    public void Stages_MatchOfficialIntermediates()
    {
        using var scope = torch.NewDisposeScope();
        using var model = LoadFixtureModel();
        using var _ = torch.inference_mode();
        var x = model.PatchEmbed.call(SharedData.Tensor("tinyvim", "input.npy"));
        Check("patch_embed.out.npy", x);
        for (var i = 0; i < model.Network.Count; i++)
        {
            x = model.Network[i].call(x);
            Check($"network.{i}.out.npy", x);
        }
        x = model.Norm.call(x);
        Check("norm.out.npy", x);
        var pooled = x.flatten(2).mean([-1]);
        Check("pooled.npy", pooled);
        Check("head.npy", model.Head.call(pooled));
        Check("dist_head.npy", model.DistHead!.call(pooled));
        var (head, dist) = model.ForwardHeads(SharedData.Tensor("tinyvim", "input.npy"));
        Check("head.npy", head);
        Check("dist_head.npy", dist!);
        SharedData.AssertClose(model.ForwardFeatures(SharedData.Tensor("tinyvim", "input.npy")), pooled, 1e-6, "ForwardFeatures");
    }

    private void Check(string file, Tensor actual)
    {
        var err = SharedData.AssertClose(SharedData.Tensor("tinyvim", "stages", file), actual, Atol, file);
        _out.WriteLine($"{file}: max abs err {err:E3}");
    }

    [ParityFact]
    public void LaplaceMixer_MatchesOfficial()
    {
        using var scope = torch.NewDisposeScope();
        // network.0.1.op of the fixture: width 16, stage 0 (pool 8, low share 1/4 → 4 channels), dt_rank ceil(16/16) = 1.
        using var mixer = new SS2D(16, pool: 8, lowFreqRatio: 0.25, dState: 8);
        mixer.load_py(SharedData.Parity("tinyvim", "laplace_mixer", "weights.pt"), strict: true);
        mixer.eval();
        using var _ = torch.inference_mode();
        var input = SharedData.Tensor("tinyvim", "laplace_mixer", "input.npy");
        foreach (var mode in new[] { SelectiveScanMode.Chunked, SelectiveScanMode.Sequential })
        {
            mixer.ScanMode = mode;
            var err = SharedData.AssertClose(SharedData.Tensor("tinyvim", "laplace_mixer", "output.npy"), mixer.call(input), Atol, "laplace mixer");
            _out.WriteLine($"laplace mixer ({mode}): max abs err {err:E3}");
        }
        // The scan core on the fixture's pooled low part (intermediate 06 → 08).
        var core = mixer.ForwardSsm(SharedData.Tensor("tinyvim", "laplace_mixer", "intermediates", "06_x_low_pooled.npy"));
        var coreErr = SharedData.AssertClose(SharedData.Tensor("tinyvim", "laplace_mixer", "intermediates", "08_ssm_core_out.npy"), core, Atol, "ssm core");
        _out.WriteLine($"laplace mixer scan core (06→08): max abs err {coreErr:E3}");
    }

    [ParityFact]
    public void MambaCore_MatchesOfficial()
    {
        using var scope = torch.NewDisposeScope();
        using var mixer = new SS2D(16, pool: 8, lowFreqRatio: 0.25, dState: 8);
        var loaded = new Dictionary<string, bool>();
        // The fixture holds only the SSM tensors + out_norm; every one of them must load.
        mixer.load_py(SharedData.Parity("tinyvim", "mamba_core", "weights.pt"), strict: false, loadedParameters: loaded);
        var expectedKeys = new[] { "x_proj_weight", "dt_projs_weight", "dt_projs_bias", "A_logs", "Ds", "out_norm.weight", "out_norm.bias" };
        foreach (var k in expectedKeys) Assert.True(loaded.TryGetValue(k, out var ok) && ok, $"{k} was not loaded");
        mixer.eval();
        using var _ = torch.inference_mode();
        var input = SharedData.Tensor("tinyvim", "mamba_core", "input.npy");
        var err = SharedData.AssertClose(SharedData.Tensor("tinyvim", "mamba_core", "output.npy"), mixer.ForwardSsm(input), Atol, "mamba core");
        _out.WriteLine($"mamba core: max abs err {err:E3}");
    }

    [ParityFact]
    public void SelectiveScanKernel_MatchesOfficial_BothImplementations()
    {
        using var scope = torch.NewDisposeScope();
        Tensor T(string f) => SharedData.Tensor("tinyvim", "selective_scan", f);
        var expected = T("output.npy");
        var seq = SelectiveScan.Sequential(T("u.npy"), T("delta.npy"), T("A.npy"), T("B.npy"), T("C.npy"), T("D.npy"), T("delta_bias.npy"));
        var chk = SelectiveScan.Chunked(T("u.npy"), T("delta.npy"), T("A.npy"), T("B.npy"), T("C.npy"), T("D.npy"), T("delta_bias.npy"), chunkSize: 4);
        var e1 = SharedData.AssertClose(expected, seq, Atol, "sequential scan");
        var e2 = SharedData.AssertClose(expected, chk, Atol, "chunked scan");
        _out.WriteLine($"selective scan kernel: sequential {e1:E3}, chunked {e2:E3}");
    }

    [ParityFact]
    public void TViMBlockStage4_MatchesOfficial()
    {
        using var scope = torch.NewDisposeScope();
        // network.6.0: width 64, stage 3 (no pooling, low share 3/4 → 48 channels), dt_rank 4, FFN 4×.
        using var block = new TViMBlock(64, new SS2D(64, pool: 1, lowFreqRatio: 0.75, dState: 8), 256);
        block.load_py(SharedData.Parity("tinyvim", "tvim_block_stage3", "weights.pt"), strict: true);
        block.eval();
        using var _ = torch.inference_mode();
        var err = SharedData.AssertClose(SharedData.Tensor("tinyvim", "tvim_block_stage3", "output.npy"),
            block.call(SharedData.Tensor("tinyvim", "tvim_block_stage3", "input.npy")), Atol, "TViMBlock stage 4");
        _out.WriteLine($"TViMBlock (stage 4): max abs err {err:E3}");
    }
}

using MLNetExtensions.Transforms.Excp;
using TorchSharp;
using TorchSharp.PyBridge;
using Xunit;
using Xunit.Abstractions;

namespace MLNetExtensions.Tests.Excp;

public sealed class ExcpTorchTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "excp-torch-" + Guid.NewGuid().ToString("N"));
    public void Dispose() { if (Directory.Exists(_dir)) Directory.Delete(_dir, true); }

    [Fact]
    public void Capture_compress_restore_and_resume_training_from_a_decoded_step()
    {
        using var run = new MlpTraining(0, new[] { 32, 64, 10 });
        var chain = ExcpChain.Open(_dir, new ExcpOptions { Alpha = 2e-3, ZstdLevel = 3 });
        run.Train(100);
        chain.Append(run.Capture());
        for (int i = 0; i < 3; i++) { run.Train(50); chain.Append(run.Capture()); }
        var truth = run.Capture();
        double lossTrue = run.Loss();

        // Restore the decoded last step into a fresh model + optimizer (different init) and compare.
        var decoded = ExcpChain.Open(_dir).Read(truth.Step);
        using var fresh = new MlpTraining(1, new[] { 32, 64, 10 });
        TorchCheckpointAdapter.Restore(decoded, fresh.Model, fresh.Optimizer);
        var back = TorchCheckpointAdapter.Capture(fresh.Model, fresh.Optimizer, truth.Step);
        Assert.Equal(decoded.ContentHash(), back.ContentHash()); // weights, moments and the true step all landed
        Assert.Equal(truth.Step, back["0.weight"].Adam!.Step);
        double lossDecoded = fresh.Loss();
        output.WriteLine($"loss: original {lossTrue:F4}, decoded {lossDecoded:F4}; weight RMSE {SyntheticTraining.Rmse(truth["0.weight"].Values, decoded["0.weight"].Values):E3}");
        Assert.True(Math.Abs(lossDecoded - lossTrue) < 0.05, $"decoded loss {lossDecoded} vs {lossTrue}");

        // Resuming works and keeps improving.
        fresh.Train(50);
        Assert.True(fresh.Loss() < lossDecoded + 0.01);
    }

    [Fact]
    public void PyTorch_state_dict_files_round_trip_through_PyBridge()
    {
        using var run = new MlpTraining(2, new[] { 12, 16, 4 }, adamW: true);
        run.Train(30);
        var ck = run.Capture();
        Assert.True(ck.Optimizer!.DecoupledWeightDecay);
        Directory.CreateDirectory(_dir);
        var model = Path.Combine(_dir, "model.pt");
        var opt = Path.Combine(_dir, "optimizer.pt");
        run.Model.save_py(model);
        run.Optimizer.save_py(opt);

        // Shapes are unique in this MLP, so positions can be matched without names; with names too.
        var loaded = PyTorchCheckpointFiles.Load(model, opt, ck.Step);
        var named = PyTorchCheckpointFiles.Load(model, opt, ck.Step, run.Model.named_parameters().Select(p => p.name).ToList());
        foreach (var p in ck.Parameters)
        {
            Assert.Equal(p.Values, loaded[p.Name].Values);
            Assert.Equal(p.Adam!.ExpAvg, loaded[p.Name].Adam!.ExpAvg);
            Assert.Equal(p.Adam.ExpAvgSq, named[p.Name].Adam!.ExpAvgSq);
            Assert.Equal(p.Adam.Step, loaded[p.Name].Adam!.Step);
        }

        // Our writer produces files TorchSharp's PyTorch-format loaders accept.
        var model2 = Path.Combine(_dir, "model2.pt");
        var opt2 = Path.Combine(_dir, "optimizer2.pt");
        PyTorchCheckpointFiles.Save(ck, model2, opt2, run.Model.named_parameters().Select(p => p.name).ToList());
        using var other = new MlpTraining(3, new[] { 12, 16, 4 }, adamW: true);
        other.Model.load_py(model2, strict: true);
        other.Optimizer.load_py(opt2);
        var again = TorchCheckpointAdapter.Capture(other.Model, other.Optimizer, ck.Step);
        foreach (var p in ck.Parameters)
        {
            Assert.Equal(p.Values, again[p.Name].Values);
            Assert.Equal(p.Adam!.ExpAvgSq, again[p.Name].Adam!.ExpAvgSq);
            Assert.Equal(p.Adam.Step, again[p.Name].Adam!.Step);
        }

        // safetensors weights too.
        var st = Path.Combine(_dir, "model.safetensors");
        PyTorchCheckpointFiles.Save(ck, st);
        var fromSt = PyTorchCheckpointFiles.Load(st, opt2, ck.Step);
        foreach (var p in ck.Parameters) { Assert.Equal(p.Values, fromSt[p.Name].Values); Assert.Equal(p.Adam!.ExpAvg, fromSt[p.Name].Adam!.ExpAvg); }

        // Ambiguous shapes without names are refused, not guessed.
        using var twin = new MlpTraining(4, new[] { 8, 8, 8, 8 });
        twin.Train(2);
        twin.Model.save_py(model);
        twin.Optimizer.save_py(opt);
        var ex = Assert.Throws<ArgumentException>(() => PyTorchCheckpointFiles.Load(model, opt, 2));
        Assert.Contains("--param-names", ex.Message);
    }
}

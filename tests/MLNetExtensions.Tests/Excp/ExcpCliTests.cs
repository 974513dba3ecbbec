using MLNetExtensions.Transforms.Excp;
using MLNetExtensions.ExcpCli;
using TorchSharp;
using TorchSharp.PyBridge;
using Xunit;
using Xunit.Abstractions;

namespace MLNetExtensions.Tests.Excp;

/// <summary>The <c>excp</c> command line (compress, decompress, inspect, verify) through its entry point <see cref="Cli.Run"/>.</summary>
public sealed class ExcpCliTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mlx-excp-cli").FullName;
    public void Dispose() { if (Directory.Exists(_dir)) Directory.Delete(_dir, true); }

    /// <summary>Runs the CLI; returns exit code, stdout and stderr.</summary>
    private (int Code, string Out, string Err) Excp(params string[] args)
    {
        var o = new StringWriter(); var e = new StringWriter();
        int code = Cli.Run(args, o, e);
        output.WriteLine($"$ excp {string.Join(' ', args)}  -> {code}\n{o}{e}");
        return (code, o.ToString(), e.ToString());
    }

    private string P(string name) => Path.Combine(_dir, name);

    [Fact]
    public void CompressesPyTorchFilesIntoAChainThenInspectsVerifiesAndDecompressesThem()
    {
        using var run = new MlpTraining(5, new[] { 32, 64, 10 }, lr: 1e-3, beta2: 0.95);
        var names = run.Model.named_parameters().Select(p => p.name).ToList();
        File.WriteAllLines(P("names.txt"), names);
        var chain = P("chain");
        var originals = new Dictionary<long, TrainingCheckpoint>();
        foreach (long step in new long[] { 100, 150, 200 })
        {
            run.Train((int)(step - run.Step));
            originals[step] = run.Capture();
            // Weights alternate between .pt and .safetensors; the optimizer is always a torch.save'd state dict.
            var model = P(step == 150 ? $"model{step}.safetensors" : $"model{step}.pt");
            if (model.EndsWith(".pt")) run.Model.save_py(model); else PyTorchCheckpointFiles.Save(originals[step], model);
            run.Optimizer.save_py(P($"optim{step}.pt"));
            var c = Excp("compress", "--chain", chain, "--model", model, "--optimizer", P($"optim{step}.pt"), "--param-names", P("names.txt"),
                "--step", step.ToString(), "--alpha", "2e-3");
            Assert.Equal(0, c.Code);
            Assert.Contains($"step {step} ->", c.Out);
            Assert.Contains(step == 100 ? "key frame" : "link, parent", c.Out);
            if (step > 100) Assert.Contains("0.weight", c.Out); // per-tensor kept fractions of a link
        }

        var inspect = Excp("inspect", chain);
        Assert.Equal(0, inspect.Code);
        Assert.Contains("3 checkpoints", inspect.Out);
        var file = Path.Combine(chain, ExcpChain.FileNameFor(200));
        var inspectFile = Excp("inspect", file);
        Assert.Equal(0, inspectFile.Code);
        Assert.Contains("link against step 150", inspectFile.Out);
        Assert.Contains("alpha 0.002", inspectFile.Out);
        Assert.Contains("betas (0.9, 0.95)", inspectFile.Out);

        var verify = Excp("verify", chain);
        Assert.Equal(0, verify.Code);
        Assert.Contains("3 checkpoints verified", verify.Out);

        // Decompress: the key frame is exact; the last link equals the chain's reconstruction exactly and the original
        // within the codec's error (model loss barely moves).
        foreach (long step in new long[] { 100, 200 })
        {
            var d = Excp("decompress", "--chain", chain, "--step", step.ToString(), "--model", P($"out{step}.pt"), "--optimizer", P($"outopt{step}.pt"),
                "--param-names", P("names.txt"));
            Assert.Equal(0, d.Code);
            var back = PyTorchCheckpointFiles.Load(P($"out{step}.pt"), P($"outopt{step}.pt"), step, names);
            var recon = ExcpChain.Open(chain).Read(step);
            foreach (var p in recon.Parameters)
            {
                Assert.Equal(p.Values, back[p.Name].Values);
                Assert.Equal(p.Adam!.ExpAvg, back[p.Name].Adam!.ExpAvg);
                Assert.Equal(step, back[p.Name].Adam!.Step);
                if (step == 100) Assert.Equal(originals[step][p.Name].Values, p.Values);
            }
        }
        using var fresh = new MlpTraining(6, new[] { 32, 64, 10 }, lr: 1e-3, beta2: 0.95);
        double lossTrue = run.Loss();
        fresh.Model.load_py(P("out200.pt"), strict: true);
        double lossDecoded = fresh.Loss();
        double rmse = SyntheticTraining.Rmse(originals[200]["0.weight"].Values, ExcpChain.Open(chain).Read(200)["0.weight"].Values);
        output.WriteLine($"step 200: loss original {lossTrue:F4}, decompressed {lossDecoded:F4}; 0.weight RMSE {rmse:E2}");
        Assert.True(Math.Abs(lossDecoded - lossTrue) < 0.03, $"loss {lossDecoded} vs {lossTrue}");
        Assert.True(rmse < 2e-3, $"weight RMSE {rmse}");

        // To our lossless single-file format and back through verify.
        var single = P("step150.excp");
        Assert.Equal(0, Excp("decompress", "--chain", chain, "--step", "150", "--out", single).Code);
        var v = Excp("verify", single);
        Assert.Equal(0, v.Code);
        Assert.Contains("OK (step 150, lossless)", v.Out);
        Assert.Equal(ExcpChain.Open(chain).Read(150).ContentHash(), ExcpCheckpointFile.Read(single).ContentHash());
        // ... which compresses into another chain as its key frame.
        var c2 = Excp("compress", "--chain", P("chain2"), "--checkpoint", single, "--step", "150");
        Assert.Equal(0, c2.Code);
        Assert.Contains("key frame", c2.Out);

        // A flipped byte in the middle link: verify fails (exit 2) naming that file and step, and the later step too;
        // decompressing the last step fails with the file and step in the message.
        var middle = Path.Combine(chain, ExcpChain.FileNameFor(150));
        var bytes = File.ReadAllBytes(middle);
        bytes[bytes.Length - 7] ^= 0x10;
        File.WriteAllBytes(middle, bytes);
        var bad = Excp("verify", chain);
        Assert.Equal(2, bad.Code);
        Assert.Contains("2 of 3 checkpoints FAILED", bad.Out);
        Assert.Contains(middle, bad.Out);
        var badDecompress = Excp("decompress", "--chain", chain, "--step", "200", "--out", P("never.excp"));
        Assert.Equal(2, badDecompress.Code);
        Assert.Contains(middle, badDecompress.Err);
        Assert.Contains("step 150", badDecompress.Err);
        Assert.False(File.Exists(P("never.excp")));
        var badFile = Excp("verify", middle);
        Assert.Equal(2, badFile.Code);
        Assert.Contains(middle, badFile.Err);
    }

    [Fact]
    public void UsageAndInputErrorsExitWithOneAndSayWhatIsWrong()
    {
        var none = Excp();
        Assert.Equal(1, none.Code);
        Assert.Contains("usage", none.Out);
        Assert.Equal(0, Excp("--help").Code);
        var unknown = Excp("squash", "x");
        Assert.Equal(1, unknown.Code);
        Assert.Contains("Unrecognized command or argument 'squash'", unknown.Err);
        var noChain = Excp("compress", "--model", P("m.pt"), "--step", "1");
        Assert.Equal(1, noChain.Code);
        Assert.Contains("'--chain' is required", noChain.Err);
        var missingModel = Excp("compress", "--chain", P("c"), "--model", P("absent.pt"), "--step", "1");
        Assert.Equal(1, missingModel.Code);
        Assert.Contains("absent.pt", missingModel.Err);
        var noStep = Excp("decompress", "--chain", P("c"), "--step", "7", "--out", P("o.excp"));
        Assert.Equal(1, noStep.Code);
        Assert.Contains("no step 7", noStep.Err);
        // A missing input is an input error (1), as the help says, not corrupt data (2).
        var missingFile = Excp("verify", P("nothing.excp"));
        Assert.Equal(1, missingFile.Code);
        Assert.Contains("nothing.excp", missingFile.Err);
        var missingInspect = Excp("inspect", "/nonexistent");
        Assert.Equal(1, missingInspect.Code);
        Assert.Contains("'/nonexistent' does not exist", missingInspect.Err);
        var notANumber = Excp("compress", "--chain", P("c"), "--model", P("m.pt"), "--step", "1", "--bits", "x");
        Assert.Equal(1, notANumber.Code);
        Assert.Contains("'x' for option '--bits'", notANumber.Err);
        Assert.DoesNotContain("   at ", notANumber.Err); // one line, no stack trace
        var help = Excp("compress", "--help");
        Assert.Equal(0, help.Code);
        Assert.Contains("[default: 5E-05]", help.Out); // defaults are shown
        var badValue = Excp("compress", "--chain", P("c"), "--model", P("absent.pt"), "--step", "1", "--bits", "3");
        Assert.Equal(1, badValue.Code);
    }
}

using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Transforms.Excp;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Estimators.Excp;
using MLNetExtensions.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;
using MLNetExtensions.Transforms.Datasets;

namespace MLNetExtensions.Tests.Excp;

/// <summary>One short training run with ExCP checkpoints, shared by the serving tests (3 epochs → a chain of 3 steps).</summary>
public sealed class ExcpServedChainFixture : IDisposable
{
    public ExcpServedChainFixture()
    {
        Ml = new MLContext(seed: 1).RegisterMLNetExtensions();
        Train = FashionMnist.Load(Ml, FashionMnistSplit.Train, 256);
        Test = FashionMnist.Load(Ml, FashionMnistSplit.Test, 64);
        Root = Directory.CreateTempSubdirectory("mlx-excp-serve").FullName;
        var o = new TestCnnTrainer.Options
        {
            ImageColumnName = "Pixels", MaxEpochs = 3, BatchSize = 32, LearningRate = 5e-3, Seed = 7,
            Mean = new[] { 0.5f, 0.5f, 0.5f }, Std = new[] { 0.5f, 0.5f, 0.5f }, LabelSmoothing = 0,
            CheckpointDirectory = Root, CheckpointFormat = new ExcpOptions { Alpha = 5e-3 }, BatchNormRecalibrationBatches = 0,
        };
        Trained = new TestCnnTrainer(Ml, o).Fit(Train);
        ChainDirectory = Path.Combine(Root, "excp");
        Steps = ExcpChain.Open(ChainDirectory).Entries.Select(e => e.Step).ToArray();
    }

    public MLContext Ml { get; }
    public IDataView Train { get; }
    public IDataView Test { get; }
    public string Root { get; }
    public string ChainDirectory { get; }
    public long[] Steps { get; }
    /// <summary>The fitted model of the run (its network is the reference that ExcpServing.LoadStep fills).</summary>
    public TorchImageClassificationTransformer Trained { get; }

    public void Dispose()
    {
        Trained.Dispose();
        try { Directory.Delete(Root, true); } catch (IOException) { }
    }
}

/// <summary>ExcpCheckpointTransformer: a chain step as a servable, saveable classifier.</summary>
public class ExcpCheckpointTransformerTests : IClassFixture<ExcpServedChainFixture>
{
    private readonly ExcpServedChainFixture _f;
    private readonly ITestOutputHelper _out;

    public ExcpCheckpointTransformerTests(ExcpServedChainFixture f, ITestOutputHelper output) { _f = f; _out = output; }

    private static float[][] Scores(IDataView scored) =>
        scored.GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray();

    private sealed class PixelsRow
    {
        [VectorType(1, 28, 28)] public float[] Pixels { get; set; } = Array.Empty<float>();
    }

    private sealed class Prediction
    {
        public float[] Score { get; set; } = Array.Empty<float>();
        public uint PredictedLabel { get; set; }
    }

    [Fact]
    public void TrainerStoresAChecksummedModelCardInTheChainAndInItsKeyFrame()
    {
        Assert.Equal(3, _f.Steps.Length);
        var card = ExcpModelCard.TryRead(_f.ChainDirectory);
        Assert.NotNull(card);
        Assert.Equal(_f.Trained.Description.Architecture, card!.Description.Architecture);
        Assert.Equal(_f.Trained.Description.ClassNames, card.Description.ClassNames);
        Assert.Equal(ExcpModelCard.SignatureOf(_f.Trained.Network).Select(t => t.Name), card.Tensors.Select(t => t.Name));
        // In the key frame (every step decodes from it), not repeated in the links.
        var key = ExcpFile.ReadInfo(Path.Combine(_f.ChainDirectory, ExcpChain.FileNameFor(_f.Steps[0])));
        Assert.True(key.IsKeyFrame);
        var embedded = ExcpModelCard.Parse(key.Extras[ExcpModelCard.ExtraKey], "extra");
        Assert.Equal(card.Description.ConfigJson, embedded.Description.ConfigJson);
        Assert.Equal(card.Tensors.Count, embedded.Tensors.Count);
        foreach (var s in _f.Steps.Skip(1))
            Assert.False(ExcpFile.ReadInfo(Path.Combine(_f.ChainDirectory, ExcpChain.FileNameFor(s))).Extras.ContainsKey(ExcpModelCard.ExtraKey));
        // Found from any step without decoding; and without the folder's model.json the chain still serves.
        Assert.Equal(card.Description.ConfigJson, ExcpCheckpointTransformer.ReadModelCard(_f.ChainDirectory, _f.Steps[2])!.Description.ConfigJson);
        var bare = Directory.CreateTempSubdirectory("mlx-excp-bare").FullName;
        try
        {
            foreach (var file in Directory.GetFiles(_f.ChainDirectory).Where(f => Path.GetFileName(f) != ExcpModelCard.FileName))
                File.Copy(file, Path.Combine(bare, Path.GetFileName(file)));
            using var t = ExcpCheckpointTransformer.Create(_f.Ml, bare, _f.Steps[2]);
            Assert.Equal(card.Description.ClassNames, t.Description.ClassNames);
        }
        finally { Directory.Delete(bare, true); }
        // The card's checksum catches edits; a newer version is refused with a clear message.
        var bytes = File.ReadAllBytes(Path.Combine(_f.ChainDirectory, ExcpModelCard.FileName));
        var text = System.Text.Encoding.UTF8.GetString(bytes);
        var tampered = System.Text.Encoding.UTF8.GetBytes(text.Replace("\\\"NumClasses\\\":10", "\\\"NumClasses\\\":11"));
        Assert.NotEqual(bytes, tampered);
        Assert.Contains("checksum", Assert.Throws<InvalidDataException>(() => ExcpModelCard.Parse(tampered, "'x'")).Message);
        var newer = System.Text.Encoding.UTF8.GetBytes(text.Replace($"\"version\":{ExcpModelCard.CurrentVersion}", "\"version\":9"));
        Assert.Contains("version 9", Assert.Throws<InvalidDataException>(() => ExcpModelCard.Parse(newer, "'x'")).Message);
    }

    [Fact]
    public void MiddleAndLastStepsServeTheScoresOfTheDecodedWeightsAndWorkInAPredictionEngine()
    {
        foreach (var step in new[] { _f.Steps[1], _f.Steps[2] })
        {
            using var served = _f.Ml.Transforms.LoadExcpCheckpoint(_f.ChainDirectory, step).Fit(_f.Test);
            Assert.Equal(step, served.Step);
            var actual = Scores(served.Transform(_f.Test));

            // Reference: the trained network with the step's weights loaded by ExcpServing.LoadStep.
            ExcpServing.LoadStep(_f.Trained, _f.ChainDirectory, step);
            var expected = Scores(_f.Trained.Transform(_f.Test));
            Assert.Equal(expected, actual);

            var predicted = served.Transform(_f.Test).GetColumn<uint>("PredictedLabel").ToArray();
            for (int i = 0; i < actual.Length; i++) Assert.Equal((uint)Array.IndexOf(actual[i], actual[i].Max()) + 1, predicted[i]);
            var acc = _f.Ml.MulticlassClassification.Evaluate(served.Transform(_f.Test)).MicroAccuracy;
            _out.WriteLine($"step {step}: accuracy on 64 test images {acc:P1}");

            var rows = _f.Test.GetColumn<VBuffer<float>>("Pixels").Take(3).Select(v => new PixelsRow { Pixels = v.DenseValues().ToArray() }).ToArray();
            using var engine = _f.Ml.Model.CreatePredictionEngine<PixelsRow, Prediction>(served, new PredictionEngineOptions { OwnsTransformer = false });
            for (int r = 0; r < rows.Length; r++)
            {
                var p = engine.Predict(rows[r]);
                for (int j = 0; j < 10; j++) Assert.True(Math.Abs(actual[r][j] - p.Score[j]) < 1e-5, $"row {r} class {j}: {actual[r][j]} vs {p.Score[j]}");
                Assert.Equal(predicted[r], p.PredictedLabel);
            }
        }
        // The default step is the last one; scores of different steps differ (it really serves the chosen step).
        using var last = ExcpCheckpointTransformer.Create(_f.Ml, _f.ChainDirectory);
        using var middle = ExcpCheckpointTransformer.Create(_f.Ml, _f.ChainDirectory, _f.Steps[1]);
        Assert.Equal(_f.Steps[2], last.Step);
        Assert.NotEqual(Scores(last.Transform(_f.Test)), Scores(middle.Transform(_f.Test)));
    }

    [Theory]
    [InlineData(ExcpModelPayload.DecodedWeights)]
    [InlineData(ExcpModelPayload.ChainLinks)]
    public void SaveLoadRoundTripIsBitIdenticalInAFreshContextWithoutTheChainFolder(ExcpModelPayload payload)
    {
        var dir = Directory.CreateTempSubdirectory("mlx-excp-zip").FullName;
        try
        {
            // Serve from a copy of the chain, then delete it: the saved model must not need the folder.
            var copy = Path.Combine(dir, "chain");
            Directory.CreateDirectory(copy);
            foreach (var file in Directory.GetFiles(_f.ChainDirectory)) File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
            var pipeline = _f.Ml.Transforms.CopyColumns("Pixels", "Pixels").Append(_f.Ml.Transforms.LoadExcpCheckpoint(copy, _f.Steps[1], payload));
            var model = pipeline.Fit(_f.Test);
            var expected = Scores(model.Transform(_f.Test));
            var zip = Path.Combine(dir, "model.zip");
            _f.Ml.Model.Save(model, _f.Test.Schema, zip);
            Directory.Delete(copy, true);
            _out.WriteLine($"{payload}: model zip {new FileInfo(zip).Length:N0} B");

            var ml2 = new MLContext(seed: 3).RegisterMLNetExtensions();
            var loaded = ml2.Model.Load(zip, out _);
            var excp = Assert.IsType<ExcpCheckpointTransformer>(((TransformerChain<ITransformer>)loaded).LastTransformer);
            Assert.Equal(_f.Steps[1], excp.Step);
            Assert.Equal(payload, excp.Payload);
            Assert.Equal(Convert.ToHexString(ExcpChain.Open(_f.ChainDirectory).Entries[1].ReconstructionHash).ToLowerInvariant(), excp.ReconstructionSha256);
            Assert.Equal(expected, Scores(loaded.Transform(_f.Test)));

            // Saving the loaded model again keeps the payload (and the scores).
            var zip2 = Path.Combine(dir, "model2.zip");
            ml2.Model.Save(loaded, _f.Test.Schema, zip2);
            var again = new MLContext(seed: 4).RegisterMLNetExtensions().Model.Load(zip2, out _);
            Assert.Equal(expected, Scores(again.Transform(_f.Test)));

            if (payload == ExcpModelPayload.ChainLinks)
            {
                // A fresh process (LoadProbe) loads it and scores 64 test rows the same.
                var outFile = Path.Combine(dir, "scores.bin");
                var psi = new ProcessStartInfo("dotnet", $"\"{LoadProbe.Path()}\" \"{zip}\" 64 Score \"{outFile}\"") { RedirectStandardError = true, RedirectStandardOutput = true };
                using var p = Process.Start(psi)!;
                var err = p.StandardError.ReadToEnd();
                Assert.True(p.WaitForExit(120_000), "probe timed out");
                Assert.True(p.ExitCode == 0, $"probe failed: {err}");
                var bytes = File.ReadAllBytes(outFile);
                var flat = expected.SelectMany(r => r).ToArray();
                Assert.Equal(flat.Length * 4, bytes.Length);
                int differing = 0; double maxDiff = 0;
                for (int i = 0; i < flat.Length; i++)
                {
                    float got = BitConverter.ToSingle(bytes, 4 * i);
                    if (BitConverter.SingleToInt32Bits(flat[i]) != BitConverter.SingleToInt32Bits(got)) differing++;
                    maxDiff = Math.Max(maxDiff, Math.Abs(flat[i] - got));
                }
                // Same weights bit for bit (the decode is hash-checked). Bit-identical scores when this test runs alone;
                // with the folder's classes running in parallel under load the in-process forward rounded differently
                // (≤ 3e-8 on probabilities), hence a tolerance.
                _out.WriteLine($"fresh process: {differing} of {flat.Length} scores differ in the last bits, max |diff| {maxDiff:G3}");
                Assert.True(maxDiff < 1e-6, $"fresh-process scores: {differing} of {flat.Length} differ, max |diff| {maxDiff:G3}");
            }
            (loaded as IDisposable)?.Dispose();
            (again as IDisposable)?.Dispose();
            (model as IDisposable)?.Dispose();
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void BadChainsStepsAndFilesGiveErrorsNamingFileAndStep()
    {
        var dir = Directory.CreateTempSubdirectory("mlx-excp-bad").FullName;
        try
        {
            var missingDir = Path.Combine(dir, "nope");
            Assert.Contains(missingDir, Assert.Throws<DirectoryNotFoundException>(() => ExcpCheckpointTransformer.Create(_f.Ml, missingDir)).Message);
            Assert.False(Directory.Exists(missingDir), "serving must not create the folder");

            var unknown = Assert.Throws<ArgumentException>(() => ExcpCheckpointTransformer.Create(_f.Ml, _f.ChainDirectory, 12345));
            Assert.Contains("12345", unknown.Message);
            Assert.Contains(ExcpChain.IndexFileName, unknown.Message);
            Assert.Contains(_f.Steps[0].ToString(), unknown.Message);

            string Copy(string name)
            {
                var c = Path.Combine(dir, name);
                Directory.CreateDirectory(c);
                foreach (var file in Directory.GetFiles(_f.ChainDirectory)) File.Copy(file, Path.Combine(c, Path.GetFileName(file)));
                return c;
            }
            // A missing middle link: the last step cannot be decoded; the error names the missing file and its step.
            var gap = Copy("gap");
            var middleFile = Path.Combine(gap, ExcpChain.FileNameFor(_f.Steps[1]));
            File.Delete(middleFile);
            var e1 = Assert.Throws<ExcpFormatException>(() => ExcpCheckpointTransformer.Create(_f.Ml, gap, _f.Steps[2]));
            Assert.Equal(middleFile, e1.FilePath);
            Assert.Equal(_f.Steps[1], e1.Step);
            Assert.Contains("missing", e1.Message);

            // A corrupt byte in the served step's file.
            var bad = Copy("corrupt");
            var lastFile = Path.Combine(bad, ExcpChain.FileNameFor(_f.Steps[2]));
            var bytes = File.ReadAllBytes(lastFile);
            bytes[bytes.Length / 2] ^= 0x5A;
            File.WriteAllBytes(lastFile, bytes);
            var e2 = Assert.Throws<ExcpFormatException>(() => ExcpCheckpointTransformer.Create(_f.Ml, bad, _f.Steps[2]));
            Assert.Equal(lastFile, e2.FilePath);
            Assert.Equal(_f.Steps[2], e2.Step);
            Assert.Contains(lastFile, e2.Message);
            // Earlier steps of the same chain still serve.
            using (var ok = ExcpCheckpointTransformer.Create(_f.Ml, bad, _f.Steps[1])) Assert.Equal(_f.Steps[1], ok.Step);

            // A chain written without a model card (plain ExcpChain use) needs the description.
            var plain = Path.Combine(dir, "plain");
            var chain = ExcpChain.Open(plain);
            var ck0 = ExcpChain.Open(_f.ChainDirectory).Read(_f.Steps[0]);
            chain.Append(new TrainingCheckpoint(ck0.Step, ck0.Parameters, ck0.Optimizer)); // no extras: no card
            var e3 = Assert.Throws<InvalidDataException>(() => ExcpCheckpointTransformer.Create(_f.Ml, plain));
            Assert.Contains("model description", e3.Message);
            Assert.Throws<InvalidDataException>(() => _f.Ml.Transforms.LoadExcpCheckpoint(plain));
            using (var withDescription = ExcpCheckpointTransformer.Create(_f.Ml, plain, description: _f.Trained.Description))
                Assert.Equal(10, Scores(withDescription.Transform(_f.Test))[0].Length);

            // A description of another network: refused, naming the step and the tensor.
            var wrong = _f.Trained.Description with { ConfigJson = _f.Trained.Description.ConfigJson.Replace("\"Width\":8", "\"Width\":16") };
            Assert.NotEqual(_f.Trained.Description.ConfigJson, wrong.ConfigJson);
            var e4 = Assert.Throws<InvalidDataException>(() => ExcpCheckpointTransformer.Create(_f.Ml, plain, description: wrong));
            Assert.Contains($"step {_f.Steps[0]}", e4.Message);

            // The estimator checks the input column before decoding.
            var est = _f.Ml.Transforms.LoadExcpCheckpoint(_f.ChainDirectory);
            var noPixels = _f.Ml.Data.LoadFromEnumerable(new[] { new { Other = 1f } });
            Assert.Contains("Pixels", Assert.ThrowsAny<ArgumentException>(() => est.Fit(noPixels)).Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void CliInspectsVerifiesAndDecompressesATrainerChain()
    {
        var o = new StringWriter(); var e = new StringWriter();
        Assert.Equal(0, MLNetExtensions.ExcpCli.Cli.Run(new[] { "verify", _f.ChainDirectory }, o, e));
        Assert.Contains("3 checkpoints verified", o.ToString());
        var file = Path.Combine(_f.ChainDirectory, ExcpChain.FileNameFor(_f.Steps[0])); // the key frame carries the card
        o = new StringWriter();
        Assert.Equal(0, MLNetExtensions.ExcpCli.Cli.Run(new[] { "inspect", file }, o, e));
        Assert.Contains("optimizer: lr", o.ToString());
        Assert.Contains("(AdamW)", o.ToString());
        Assert.Contains(ExcpModelCard.ExtraKey, o.ToString());
        Assert.Contains("state.json", o.ToString());
        var dir = Directory.CreateTempSubdirectory("mlx-excp-cli-chain").FullName;
        try
        {
            var single = Path.Combine(dir, "middle.excp");
            o = new StringWriter();
            Assert.Equal(0, MLNetExtensions.ExcpCli.Cli.Run(new[] { "decompress", "--chain", _f.ChainDirectory, "--step", _f.Steps[1].ToString(), "--out", single }, o, e));
            Assert.Equal(ExcpChain.Open(_f.ChainDirectory).Read(_f.Steps[1]).ContentHash(), ExcpCheckpointFile.Read(single).ContentHash());
            Assert.Equal("", e.ToString());
        }
        finally { Directory.Delete(dir, true); }
    }

}

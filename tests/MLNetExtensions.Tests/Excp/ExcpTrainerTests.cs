using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Transforms.Excp;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using MLNetExtensions.Transforms.Datasets;

namespace MLNetExtensions.Tests.Excp;

/// <summary>The shared training loop writing its periodic checkpoints through ExCP (TorchTrainerOptions.CheckpointFormat).</summary>
public class ExcpTrainerTests
{
    private static TestCnnTrainer.Options Quick(int epochs, string? dir = null, ExcpOptions? excp = null) => new()
    {
        ImageColumnName = "Pixels", MaxEpochs = epochs, BatchSize = 32, LearningRate = 5e-3, Seed = 7,
        Mean = new[] { 0.5f, 0.5f, 0.5f }, Std = new[] { 0.5f, 0.5f, 0.5f }, LabelSmoothing = 0,
        CheckpointDirectory = dir, CheckpointFormat = excp, BatchNormRecalibrationBatches = 0,
    };

    [Fact]
    public void InterruptedTrainingWithExcpCheckpointsResumesFromTheChainAndFinishes()
    {
        var ml = new MLContext(seed: 1);
        var train = FashionMnist.Load(ml, FashionMnistSplit.Train, 256);
        var dir = Directory.CreateTempSubdirectory("mlx-excp-train").FullName;
        var excp = new ExcpOptions { Alpha = 5e-3 };
        try
        {
            using var full = new TestCnnTrainer(ml, Quick(3)).Fit(train);

            // Interrupted at the first step of epoch 3: epochs 1 and 2 are in the chain (key frame + one link).
            using var cts = new CancellationTokenSource();
            var o = Quick(3, dir, excp); o.LogEveryNSteps = 1; o.CancellationToken = cts.Token;
            o.Progress = new Sync(p => { if (p.Epoch == 3) cts.Cancel(); });
            Assert.ThrowsAny<OperationCanceledException>(() => new TestCnnTrainer(ml, o).Fit(train));
            var chainDir = Path.Combine(dir, "excp");
            Assert.False(Directory.Exists(Path.Combine(dir, "latest")), "the uncompressed store must not be used");
            var chain = ExcpChain.Open(chainDir);
            Assert.Equal(2, chain.Entries.Count);
            long stepsPerEpoch = chain.Entries[0].Step;
            Assert.Equal(2 * stepsPerEpoch, chain.Entries[1].Step);
            Assert.True(File.Exists(Path.Combine(chainDir, "state.json")));

            // What resume must restore: the chain's last reconstruction, true Adam step included.
            var last = chain.Read(chain.Entries[1].Step);
            var raw = last.RawFloat32Bytes;
            var link = chain.Entries[1].FileLength;
            Assert.True(link * 8 < raw, $"ExCP link {link} B vs raw {raw} B: expected > 8× smaller");
            var adamSteps = last.Parameters.Where(p => p.Adam != null).Select(p => p.Adam!.Step).Distinct().ToList();
            Assert.Equal(new[] { 2 * stepsPerEpoch }, adamSteps);

            // Resume: loads the chain and runs epoch 3 only.
            var o2 = Quick(3, dir, excp);
            var trainer = new TestCnnTrainer(ml, o2);
            using var resumed = trainer.Fit(train);
            var s = trainer.LastTrainingSummary!;
            Assert.True(s.Resumed);
            Assert.Equal(3 * stepsPerEpoch, s.Steps);
            Assert.Single(s.History);
            Assert.Equal(3, s.History[0].Epoch);
            chain = ExcpChain.Open(chainDir);
            Assert.Equal(3, chain.Entries.Count);
            Assert.All(chain.Verify(), r => Assert.True(r.Ok, r.Message));

            // The resumed run continued the same trajectory (lossy restore): far closer to the uninterrupted weights
            // than those are to a run with another seed.
            var a = full.Network.state_dict(); var b = resumed.Network.state_dict();
            var other = Quick(3); other.Seed = 8;
            using var otherModel = new TestCnnTrainer(ml, other).Fit(train);
            var c = otherModel.Network.state_dict();
            double dResumed = 0, dOther = 0, norm = 0;
            foreach (var k in a.Keys.Where(k => a[k].is_floating_point()))
            {
                dResumed += (a[k] - b[k]).pow(2).sum().item<float>();
                dOther += (a[k] - c[k]).pow(2).sum().item<float>();
                norm += a[k].pow(2).sum().item<float>();
            }
            Assert.True(dResumed < 0.25 * dOther, $"resumed distance² {dResumed:G3} vs other-seed {dOther:G3} (norm² {norm:G3})");

            // Serving a chain step: the last step's decoded weights go into the fitted transformer exactly, and its
            // predictions stay close to the trained model's (lossy link).
            var test = FashionMnist.Load(ml, FashionMnistSplit.Test, 200);
            var before = resumed.Transform(test).GetColumn<uint>("PredictedLabel").ToArray();
            long served = ExcpServing.LoadStep(resumed, chainDir);
            Assert.Equal(3 * stepsPerEpoch, served);
            var decoded = ExcpChain.Open(chainDir).Read(served);
            var sd = resumed.Network.state_dict();
            foreach (var p in decoded.Parameters)
                Assert.Equal(p.Values, sd[p.Name].to(torch.float32).data<float>().ToArray());
            var after = resumed.Transform(test).GetColumn<uint>("PredictedLabel").ToArray();
            double agree = before.Zip(after).Count(t => t.First == t.Second) / (double)before.Length;
            Assert.True(agree > 0.8, $"predictions of the served chain step agree with the trained model on {agree:P0}");
        }
        finally { Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData(ExcpResumeAdamStep.Restart, 0L)]
    [InlineData(ExcpResumeAdamStep.True, 60L)]
    public void ResumeFromALossyLinkRestartsAdamsStepUnlessAskedForTheTrueOne(ExcpResumeAdamStep policy, long expectedAfterLink)
    {
        var dir = Directory.CreateTempSubdirectory("mlx-excp-step").FullName;
        try
        {
            var options = new ExcpOptions { Alpha = 2e-3, ResumeAdamStep = policy };
            static long AdamStep(MlpTraining r) => TorchCheckpointAdapter.Capture(r.Model, r.Optimizer, 0).Parameters[0].Adam!.Step;
            using var run = new MlpTraining(3, new[] { 16, 32, 4 }, adamW: true);
            var store = new ExcpTrainingCheckpointStore(dir, options);
            run.Train(30);
            store.Save(run.Model, new[] { run.Optimizer }, new TrainingCheckpointState(1, 30, 30, null, null, 0), null);
            // A lossless key frame: the true step, whatever the policy.
            using (var a = new MlpTraining(4, new[] { 16, 32, 4 }, adamW: true))
            {
                Assert.True(new ExcpTrainingCheckpointStore(dir, options).TryLoadLatest(a.Model, new[] { a.Optimizer }, out var s1));
                Assert.Equal(30, s1.Step);
                Assert.Equal(30, AdamStep(a));
            }
            run.Train(30);
            store.Save(run.Model, new[] { run.Optimizer }, new TrainingCheckpointState(2, 60, 30, null, null, 0), null);
            using var b = new MlpTraining(5, new[] { 16, 32, 4 }, adamW: true);
            var reopened = new ExcpTrainingCheckpointStore(dir, options);
            Assert.True(reopened.TryLoadLatest(b.Model, new[] { b.Optimizer }, out var s2));
            Assert.Equal(60, s2.Step);
            Assert.Equal(expectedAfterLink, AdamStep(b));
            // The chain itself always keeps the true step, and weights and moments are restored as decoded.
            var decoded = reopened.Chain.Read(60);
            Assert.All(decoded.Parameters.Where(p => p.Adam != null), p => Assert.Equal(60, p.Adam!.Step));
            var back = TorchCheckpointAdapter.Capture(b.Model, b.Optimizer, 60);
            foreach (var p in decoded.Parameters) { Assert.Equal(p.Values, back[p.Name].Values); Assert.Equal(p.Adam?.ExpAvgSq, back[p.Name].Adam?.ExpAvgSq); }
            b.Train(5); // and training goes on
            Assert.Equal(expectedAfterLink + 5, AdamStep(b));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void ExcpCheckpointsNeedACheckpointDirectory()
    {
        var o = Quick(1, null, new ExcpOptions());
        var e = Assert.Throws<ArgumentException>(() => o.Validate());
        Assert.Contains("CheckpointDirectory", e.Message);
    }

    private sealed class Sync : IProgress<TrainingProgress>
    {
        private readonly Action<TrainingProgress> _a;
        public Sync(Action<TrainingProgress> a) => _a = a;
        public void Report(TrainingProgress value) => _a(value);
    }
}

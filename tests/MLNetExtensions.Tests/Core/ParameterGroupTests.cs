using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Training;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Core;

public class ParameterGroupTests
{
    private sealed class Opts : TorchTrainerOptions { }

    /// <summary>Loss = Σ all parameters: a constant gradient of 1, so each AdamW step moves a parameter by exactly its group's lr.</summary>
    private sealed class SumTask : TrainingTask
    {
        private readonly Action<long> _onStep;
        private readonly nn.Module _model;
        private readonly IReadOnlyList<ParameterGroupRule>? _rules;
        public SumTask(nn.Module model, IReadOnlyList<ParameterGroupRule>? rules, Action<long> onStep) { _model = model; _rules = rules; _onStep = onStep; }
        public override nn.Module Model => _model;
        public override IReadOnlyList<ParameterGroupRule>? ParameterGroups => _rules;
        public override long? RowCount => 4;
        public override IEnumerable<HostBatch> TrainBatches(Random? shuffle, CancellationToken token)
        {
            for (int i = 0; i < 4; i++) yield return new HostBatch(new[] { ("x", HostDType.Float32, new long[] { 1 }, false) }, 1) { Count = 1 };
        }
        public override LossTerms Loss(HostBatch batch) => torch.stack(Model.parameters().Select(p => p.sum()).ToArray()).sum();
        public override double? Validate(CancellationToken token) => null;
        public override void Forward(HostBatch batch) { }
        public override void OnStep(long step, long totalSteps) => _onStep(step);
    }

    private static nn.Module Model()
    {
        torch.manual_seed(0);
        return nn.Sequential(("backbone", nn.Linear(3, 2)), ("decode_head", nn.Sequential(("body", nn.Linear(2, 2)), ("cls", nn.Linear(2, 2)))));
    }

    private static float[] Values(nn.Module m, string name) => m.named_parameters().Single(p => p.name == name).parameter.detach().clone().data<float>().ToArray();

    [Fact]
    public void GroupsFollowTheScheduleWithTheirMultipliersAndDecayRules()
    {
        using var model = Model();
        var o = new Opts { LearningRate = 1e-2, MinLearningRate = 0, WeightDecay = 0.1, WarmupSteps = 2, Schedule = LearningRateSchedule.Linear, MaxEpochs = 2, BatchSize = 1, Shuffle = false, LogEveryNSteps = 0 };
        // User rule (options) beats the task's rule for the classifier; the task's rule covers the rest of the head.
        o.ParameterGroups = new[] { new ParameterGroupRule("decode_head.cls.", 3, 0) };
        var taskRules = new[] { new ParameterGroupRule("decode_head.", 10, 0.5) };
        string[] names = { "backbone.weight", "backbone.bias", "decode_head.body.weight", "decode_head.body.bias", "decode_head.cls.weight" };
        (double lr, double wd)[] expectedMult = { (1, 0.1), (1, 0), (10, 0.05), (10, 0), (3, 0) };
        var expected = names.Select(n => Values(model, n)).ToArray();
        var ml = new MLContext(0);
        int checkedSteps = 0;
        var task = new SumTask(model, taskRules, step =>
        {
            double lr = LearningRates.At(o.Schedule, o.LearningRate, o.MinLearningRate, step - 1, o.WarmupSteps, 8);
            for (int i = 0; i < names.Length; i++)
            {
                double glr = lr * expectedMult[i].lr, wd = expectedMult[i].wd;
                // AdamW: decoupled decay, then lr · m̂/(√v̂ + ε) = lr · 1/(1 + 1e-8) for a constant gradient of 1.
                for (int j = 0; j < expected[i].Length; j++) expected[i][j] = (float)(expected[i][j] * (1 - glr * wd) - glr / (1 + 1e-8));
                var actual = Values(model, names[i]);
                for (int j = 0; j < actual.Length; j++)
                    Assert.True(Math.Abs(actual[j] - expected[i][j]) < 2e-6, $"step {step}, {names[i]}[{j}]: {actual[j]} vs {expected[i][j]} (lr {glr:E3})");
            }
            checkedSteps++;
        });
        var summary = new TorchTrainingLoop(((IHostEnvironment)ml).Register("t"), o, 0).Run(task);
        Assert.Equal(8, summary.Steps);
        Assert.Equal(8, checkedSteps);
    }

    [Fact]
    public void WithoutRulesThereAreTheTwoClassicGroups()
    {
        using var model = Model();
        var (groups, mults) = ParameterGroupBuilder.Build(model, 1e-3, 0.05, null);
        Assert.Equal(2, groups.Count);
        Assert.Equal(new[] { 1.0, 1.0 }, mults);
        Assert.Equal(3, groups[0].Parameters.Count());               // the three weight matrices decay
        Assert.Equal(3, groups[1].Parameters.Count());               // the three biases do not
        Assert.Equal(0.05, ((AdamW.Options)groups[0].Options).weight_decay);
        Assert.Equal(0.0, ((AdamW.Options)groups[1].Options).weight_decay);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Opts { ParameterGroups = new[] { new ParameterGroupRule("x.", -1) } }.Validate());
        Assert.Throws<ArgumentException>(() => new Opts { ParameterGroups = new[] { new ParameterGroupRule("", 2) } }.Validate());
    }
}

using MLNetExtensions.Tests.Infrastructure;
using TorchSharp;
using TorchSharp.PyBridge;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;
using MLNetExtensions.Transforms.Slab;

namespace MLNetExtensions.Tests.Slab;

/// <summary>RepBN, PRepBN (official LinearNorm) and SLA against outputs of the official PyTorch modules.</summary>
public class SlabLayerParityTests(ITestOutputHelper log)
{
    [ParityFact]
    public void RepBN_EvalTrainAndRunningStats_MatchOfficial()
    {
        using var m = new RepBN(8);
        m.load_py(SlabFixtures.Path("repbn", "repbn_weights.pt"), strict: true);
        using var x = SlabFixtures.Tensor("repbn", "input.npy");
        Assert.Equal(0.7f, m.Alpha.item<float>(), 5);

        m.eval();
        using (var y = m.call(x)) SlabFixtures.Close(log, SlabFixtures.Tensor("repbn", "repbn_output_eval.npy"), y, "repbn eval");

        var (a, b) = m.GetAffine();
        SlabFixtures.Close(log, SlabFixtures.Tensor("repbn", "repbn_fold_a.npy"), a, "repbn fold a", 1e-5);
        SlabFixtures.Close(log, SlabFixtures.Tensor("repbn", "repbn_fold_b.npy"), b, "repbn fold b", 1e-5);
        using (var y = m.call(x))
        using (var affine = x * a + b)
            SlabFixtures.Close(log, y, affine, "repbn eval vs a*x+b", 1e-5);

        m.train();
        long nbt0 = m.BatchNorm.num_batches_tracked!.item<long>();
        using (var y = m.call(x)) SlabFixtures.Close(log, SlabFixtures.Tensor("repbn", "repbn_output_train.npy"), y, "repbn train");
        SlabFixtures.Close(log, SlabFixtures.Tensor("repbn", "repbn_running_mean_after_train.npy"), m.BatchNorm.running_mean!, "running_mean", 1e-5);
        SlabFixtures.Close(log, SlabFixtures.Tensor("repbn", "repbn_running_var_after_train.npy"), m.BatchNorm.running_var!, "running_var", 1e-5);
        Assert.Equal(nbt0 + 1, m.BatchNorm.num_batches_tracked!.item<long>());
    }

    [ParityFact]
    public void PRepBN_ExplicitStep_ReproducesOfficialTwoTrainCalls()
    {
        using var m = new PRepBN(8);
        m.load_py(SlabFixtures.Path("repbn", "linearnorm_weights.pt"), strict: true);
        Assert.Equal(100, m.TotalSteps);
        Assert.Equal(25, m.Iter);
        Assert.Equal(0.25f, m.Gamma);
        using var x = SlabFixtures.Tensor("repbn", "input.npy");

        m.train();
        using (var y1 = m.call(x)) SlabFixtures.Close(log, SlabFixtures.Tensor("repbn", "linearnorm_output_train_call1.npy"), y1, "linearnorm call1 (gamma .25)");
        Assert.Equal(25, m.Iter); // explicit mode: the forward does not move the schedule
        m.Step();
        Assert.Equal(24, m.Iter);
        using (var y2 = m.call(x)) SlabFixtures.Close(log, SlabFixtures.Tensor("repbn", "linearnorm_output_train_call2.npy"), y2, "linearnorm call2 (gamma .24)");
        PRepBN.StepAll(m);
        Assert.Equal(23, m.Iter);

        // eval = RepBN with the running statistics of the checkpoint (reload: the train calls above updated them)
        m.load_py(SlabFixtures.Path("repbn", "linearnorm_weights.pt"), strict: true);
        m.eval();
        using (var ye = m.call(x)) SlabFixtures.Close(log, SlabFixtures.Tensor("repbn", "linearnorm_output_eval.npy"), ye, "linearnorm eval");
        Assert.Equal(25, m.Iter); // eval forwards never read or move the schedule
    }

    [ParityFact]
    public void PRepBN_AutoStepEveryForward_MatchesOfficialCounter()
    {
        using var m = new PRepBN(8, PRepBNOptions.Vision with { AutoStepEvery = 1 });
        m.load_py(SlabFixtures.Path("repbn", "linearnorm_weights.pt"), strict: true);
        using var x = SlabFixtures.Tensor("repbn", "input.npy");
        m.train();
        using (var y1 = m.call(x)) SlabFixtures.Close(log, SlabFixtures.Tensor("repbn", "linearnorm_output_train_call1.npy"), y1, "auto call1");
        using (var y2 = m.call(x)) SlabFixtures.Close(log, SlabFixtures.Tensor("repbn", "linearnorm_output_train_call2.npy"), y2, "auto call2");
        Assert.Equal(23, m.Iter);
        // eval forwards never move the counter
        m.eval();
        using (var _ = m.call(x)) Assert.Equal(23, m.Iter);
    }

    [ParityFact]
    public void Sla_KvFirstBranch_MatchesOfficial() => SlaCase("sla");

    [ParityFact]
    public void Sla_QkFirstBranch_MatchesOfficial() => SlaCase("sla_small");

    private void SlaCase(string folder)
    {
        using var fx = SharedData.Fixture("slab", folder, "fixture.json");
        var ws = fx.RootElement.GetProperty("window_size");
        long g0 = ws[0].GetInt64(), g1 = ws[1].GetInt64();
        using var m = new SimplifiedLinearAttention(32, 2, g0, g1);
        m.load_py(SlabFixtures.Path(folder, "weights.pt"), strict: true);
        m.eval();
        using var x = SlabFixtures.Tensor(folder, "input.npy");
        using var y = m.call(x);
        SlabFixtures.Close(log, SlabFixtures.Tensor(folder, "output.npy"), y, $"{folder} output");
    }
}

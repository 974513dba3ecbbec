using MLNetExtensions.Core.IO;
using MLNetExtensions.Tests.Infrastructure;
using MLNetExtensions.Transforms.Ssa;
using TorchSharp;
using TorchSharp.PyBridge;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;
using MLNetExtensions.Transforms.Segmentation;

namespace MLNetExtensions.Tests.Ssa;

/// <summary>Parity with the official SSA head (fixture made from xwmaxwma/SSA with torch 1.13, eval mode).</summary>
public class SsaParityTests(ITestOutputHelper output)
{
    private const double Tol = 1e-4;

    internal static SsaHead LoadFixtureHead()
    {
        // The fixture's weights.pt leaves out the official constant buffer ssa_loss.criterion.empty_weight (note §9);
        // everything else must load.
        var head = new SsaHead(SsaHeadConfig.Fixture);
        var loaded = new Dictionary<string, bool>();
        head.load_py(SharedData.Parity("ssa", "weights.pt"), strict: false, loadedParameters: loaded);
        var notLoaded = head.state_dict().Keys.Where(k => !loaded.GetValueOrDefault(k)).ToList();
        Assert.Equal(new[] { "ssa_loss.criterion.empty_weight" }, notLoaded);
        head.eval();
        return head;
    }

    internal static Tensor FixtureLabel()
    {
        var a = Npy.Read(SharedData.Parity("ssa", "input_label.npy"));
        return torch.tensor(a.ToInt64(), a.Shape);
    }

    [ParityFact]
    public void EvalOutputsMatchOfficial()
    {
        using var scope = torch.NewDisposeScope();
        using var head = LoadFixtureHead();
        var feat = SharedData.Tensor("ssa", "input_feat.npy");
        using var _ = torch.no_grad();
        var o = head.RunSsa(feat);
        var errs = new Dictionary<string, double>
        {
            ["coarse_logits"] = SharedData.AssertClose(SharedData.Tensor("ssa", "out_coarse_logits.npy"), o.CoarseLogits, Tol, "coarse"),
            ["feat_pos"] = SharedData.AssertClose(SharedData.Tensor("ssa", "out_feat_pos.npy"), o.FeaturePos, Tol, "feat_pos"),
            ["center_pos"] = SharedData.AssertClose(SharedData.Tensor("ssa", "out_center_pos.npy"), o.CenterPos, Tol, "center_pos"),
            ["pred_proto"] = SharedData.AssertClose(SharedData.Tensor("ssa", "out_pred_proto.npy"), o.PredProto, Tol, "pred_proto"),
            ["logits"] = SharedData.AssertClose(SharedData.Tensor("ssa", "out_logits.npy"), o.Logits, Tol, "logits"),
        };
        // forward() is the same prediction.
        errs["forward"] = SharedData.AssertClose(SharedData.Tensor("ssa", "out_logits.npy"), head.call(feat), Tol, "forward");
        foreach (var (k, v) in errs) output.WriteLine($"{k}: max abs err {v:E2}");
    }

    [ParityFact]
    public void TeacherOutputsMatchOfficial()
    {
        using var scope = torch.NewDisposeScope();
        using var head = LoadFixtureHead();
        var feat = SharedData.Tensor("ssa", "input_feat.npy");
        using var _ = torch.no_grad();
        var t = head.Teacher(head.RunSsa(feat), FixtureLabel());
        var e1 = SharedData.AssertClose(SharedData.Tensor("ssa", "out_teacher_logits.npy"), t.Logits, Tol, "teacher_logits");
        var e2 = SharedData.AssertClose(SharedData.Tensor("ssa", "out_gt_proto.npy"), t.GtProto, Tol, "gt_proto");
        var e3 = SharedData.AssertClose(SharedData.Tensor("ssa", "out_gt_center_pos.npy"), t.GtCenterPos, Tol, "gt_center_pos");
        output.WriteLine($"teacher_logits {e1:E2}, gt_proto {e2:E2}, gt_center_pos {e3:E2}");
    }

    [ParityFact]
    public void LossesMatchOfficial()
    {
        using var scope = torch.NewDisposeScope();
        using var head = LoadFixtureHead();
        var feat = SharedData.Tensor("ssa", "input_feat.npy");
        var edges = SharedData.Tensor("ssa", "input_edges.npy");
        var expected = Npy.Read(SharedData.Parity("ssa", "out_losses.npy")).ToFloat();
        using var _ = torch.no_grad();
        var loss = head.Loss(head.RunSsa(feat), FixtureLabel(), edges);
        string[] names = { "MainLoss", "PreSelfLoss", "PreLoss", "KLLoss", "dice_pred", "dice_gt", "disLoss", "pos_disLoss" };
        Assert.Equal(names, loss.Terms.Select(t => t.Key).ToArray());
        for (int i = 0; i < names.Length; i++)
        {
            var actual = loss[names[i]].item<float>();
            var err = Math.Abs(actual - expected[i]);
            output.WriteLine($"{names[i]}: official {expected[i]:F6} ours {actual:F6} abs err {err:E2}");
            Assert.True(err <= Tol, $"{names[i]}: |{actual} - {expected[i]}| = {err:E2}");
        }
        var total = loss.Total.item<float>();
        output.WriteLine($"total: official {expected[8]:F6} ours {total:F6} abs err {Math.Abs(total - expected[8]):E2}");
        Assert.True(Math.Abs(total - expected[8]) <= Tol);
    }
}

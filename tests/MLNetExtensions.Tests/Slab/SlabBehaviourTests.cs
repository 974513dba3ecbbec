using MLNetExtensions.Core.Torch;
using MLNetExtensions.Transforms.Slab;
using TorchSharp;
using TorchSharp.PyBridge;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Slab;

/// <summary>Training smoke, the PRepBN schedule, the comparison options and bad inputs.</summary>
public class SlabBehaviourTests(ITestOutputHelper log)
{
    private static SlabSwinConfig SmallSwin => new()
    {
        Name = "smoke", ImgSize = 16, PatchSize = 2, InChans = 1, NumClasses = 4, EmbedDim = 16,
        Depths = [1, 2], NumHeads = [2, 2], WindowSize = 56, AttnType = "LS", DropPathRate = 0.1,
        PRepBN = PRepBNOptions.Vision with { TotalSteps = 4 },
    };

    [Fact]
    public void TinySwin_TrainSteps_EveryParameterGetsGradient_LossFalls_ScheduleReachesBN()
    {
        torch.manual_seed(0);
        using var model = new SlabSwinTransformer(SmallSwin);
        using var x = torch.randn(8, 1, 16, 16);
        using var labels = torch.tensor(new long[] { 0, 1, 2, 3, 0, 1, 2, 3 });
        using var opt = new RootedAdamW(model.parameters(), lr: 3e-3);
        model.train();
        var losses = new List<float>();
        long liveAtStep2 = 0;
        for (int step = 0; step < 8; step++)
        {
            if (step == 2) liveAtStep2 = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            using var scope = torch.NewDisposeScope();
            opt.zero_grad();
            var loss = nn.functional.cross_entropy(model.call(x), labels);
            loss.backward();
            if (step == 0)
            {
                foreach (var (name, p) in model.named_parameters())
                {
                    Assert.True(p.grad is not null, $"{name} has no gradient");
                    Assert.False(p.grad!.isnan().any().item<bool>(), $"{name} gradient has NaN");
                    // At γ = 1 the RepBN branch is weighted by 0, so only its parameters may get a zero gradient.
                    if (!name.Contains("norm2.alpha") && !name.Contains("norm2.bn"))
                        Assert.True(p.grad.abs().sum().item<float>() > 0, $"{name} gradient is zero");
                }
            }
            opt.step();
            model.StepNormSchedule();
            losses.Add(loss.item<float>());
        }
        log.WriteLine("losses: " + string.Join(", ", losses.Select(l => l.ToString("F3"))));
        Assert.Equal(liveAtStep2, DisposeScopeManager.Statistics.ThreadTotalLiveCount); // no tensors leak per step
        Assert.All(losses, l => Assert.True(float.IsFinite(l)));
        Assert.True(losses[^1] < losses[0] * 0.8, $"loss did not fall: {losses[0]} → {losses[^1]}");
        Assert.All(PRepBN.Enumerate(model), p => { Assert.Equal(0, p.Iter); Assert.Equal(0f, p.Gamma); });

        // after the schedule: fold, predictions equal the eval-mode model
        model.eval();
        using var unfolded = model.call(x);
        model.SwitchToDeploy();
        using var folded = model.call(x);
        SlabFixtures.Close(log, unfolded, folded, "trained tiny Swin folded vs unfolded");
        Assert.True(unfolded.argmax(1).equal(folded.argmax(1)).all().item<bool>());
    }

    [Fact]
    public void PRepBN_Schedule_DecaysLinearly_AfterWarmup_AndCheckpointCarriesIt()
    {
        using var norm = new PRepBN(4, PRepBNOptions.Vision with { TotalSteps = 4, WarmSteps = 2 });
        using var x = torch.randn(2, 3, 4);
        norm.train();
        var gammas = new List<float>();
        for (int i = 0; i < 9; i++)
        {
            gammas.Add(norm.Gamma);
            norm.call(x).Dispose();
            Assert.Equal(i < 2 ? 2 - i : 0, norm.Warm);       // forwards alone never move the schedule
            norm.Step();
        }
        Assert.Equal(new[] { 1f, 1f, 1f, 0.75f, 0.5f, 0.25f, 0f, 0f, 0f }, gammas);
        // During warm-up the output is pure norm1 (LayerNorm), afterwards the mix.
        using var fresh = new PRepBN(4, PRepBNOptions.Vision with { TotalSteps = 4, WarmSteps = 1 });
        fresh.train();
        using (var y = fresh.call(x)) using (var ln = fresh.Norm1.call(x)) Assert.True(y.allclose(ln));
        Assert.Equal(0, fresh.Norm2.BatchNorm.num_batches_tracked!.item<long>()); // no BN update during warm-up

        var path = Path.Combine(Path.GetTempPath(), $"prepbn_{Guid.NewGuid():N}.pt");
        try
        {
            norm.save_py(path);
            using var restored = new PRepBN(4, PRepBNOptions.Vision with { TotalSteps = 4, WarmSteps = 2 });
            restored.load_py(path, strict: true);
            Assert.Equal(0, restored.Iter);
            Assert.Equal(0, restored.Warm);
            Assert.Equal(4, restored.TotalSteps);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void BnRecalibration_UpdatesOnlyRunningStatistics()
    {
        torch.manual_seed(6);
        using var model = new SlabDeit(new SlabDeitConfig { ImgSize = 16, PatchSize = 4, InChans = 1, NumClasses = 4, EmbedDim = 16, Depth = 1, NumHeads = 2, DropPathRate = 0.5 });
        var before = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        Assert.Equal(3, BnRecalibration.Begin(model)); // norm1, norm2, final norm
        using (torch.no_grad())
        using (var x = torch.randn(8, 1, 16, 16) * 2 + 1)
            model.call(x).Dispose();
        model.eval();
        foreach (var (key, value) in model.state_dict())
        {
            bool isStat = key.EndsWith("running_mean") || key.EndsWith("running_var") || key.EndsWith("num_batches_tracked");
            Assert.True(isStat != before[key].equal(value).all().item<bool>(), $"{key}: {(isStat ? "statistic not updated" : "changed")}");
        }
        Assert.All(PRepBN.Enumerate(model), p => Assert.Equal(60000, p.Iter)); // eval-mode PRepBN: pure RepBN, schedule untouched
        foreach (var t in before.Values) t.Dispose();
    }

    [Fact]
    public void LlamaCounting_AdvancesOncePer16Forwards_WithNumStepBuffer()
    {
        using var norm = new PRepBN(4, PRepBNOptions.Llama with { WarmSteps = 1, TotalSteps = 10, AutoStepEvery = 16 });
        Assert.Contains("num_step", norm.state_dict().Keys);
        Assert.IsType<RmsNorm>(norm.Norm1);
        Assert.Equal(0f, norm.Norm2.Alpha.item<float>());                    // LLaMA init: RepBN starts as the zero map
        using var x = torch.randn(2, 3, 4);
        norm.train();
        var iters = new List<long>();
        for (int i = 0; i < 40; i++) { norm.call(x).Dispose(); iters.Add(norm.Iter); }
        // call 1 spends the warm-up step, then one decrement on calls 17 and 33 (num_step % 16 == 0)
        Assert.Equal(0, norm.Warm);
        Assert.Equal(Enumerable.Repeat(10L, 16).Concat(Enumerable.Repeat(9L, 16)).Concat(Enumerable.Repeat(8L, 8)), iters);
    }

    [Fact]
    public void Init_FollowsOfficialTruncatedNormal()
    {
        torch.manual_seed(0);
        using var model = new SlabDeit(new SlabDeitConfig { ImgSize = 16, PatchSize = 4, InChans = 1, NumClasses = 4, EmbedDim = 64, Depth = 1, NumHeads = 2 });
        var sd = model.state_dict();
        foreach (var key in new[] { "blocks.0.mlp.fc1.weight", "blocks.0.attn.qkv.weight", "pos_embed" })
        {
            float std = sd[key].std().item<float>(), max = sd[key].abs().max().item<float>();
            Assert.InRange(std, 0.017f, 0.023f);
            Assert.True(max < 0.15f, $"{key}: max {max}");
        }
        Assert.Equal(0f, sd["blocks.0.mlp.fc1.bias"].abs().sum().item<float>());
        Assert.Equal(0f, sd["blocks.0.attn.positional_encoding"].abs().sum().item<float>()); // SLA's P starts at zero
    }

    [Fact]
    public void OneConstructor_CoversEveryNormAndAttentionCombination()
    {
        torch.manual_seed(0);
        using var x16 = torch.randn(2, 1, 16, 16);
        using var x28 = torch.randn(2, 1, 28, 28);
        foreach (var norm in Enum.GetValues<TokenNormKind>())
        foreach (var attn in Enum.GetValues<AttentionKind>())
        {
            // 28/2 = 14 and 7 tokens a side, so softmax stages tile into 7×7 windows
            using var swin = new SlabSwinTransformer(SmallSwin.WithAttention(attn) with { Norm = norm, ImgSize = 28, Depths = [1, 1] });
            using var deit = new SlabDeit(new SlabDeitConfig { ImgSize = 16, PatchSize = 4, InChans = 1, NumClasses = 4, EmbedDim = 16, Depth = 1, NumHeads = 2, Attention = attn, Norm = norm });
            foreach (nn.Module<Tensor, Tensor> m in new nn.Module<Tensor, Tensor>[] { swin, deit })
            {
                m.eval();
                using var y = m.call(ReferenceEquals(m, swin) ? x28 : x16);
                Assert.Equal(new long[] { 2, 4 }, y.shape);
                Assert.False(y.isnan().any().item<bool>());
                var keys = m.state_dict().Keys.ToList();
                Assert.Equal(norm == TokenNormKind.PRepBN, keys.Any(k => k.EndsWith(".iter")));
                Assert.Equal(attn == AttentionKind.Sla, keys.Any(k => k.EndsWith("attn.dwc.weight")));
            }
        }
        // official presets build with the official stage layout
        Assert.Equal("LLSS", SlabSwinConfig.FromName("slab_swin_small_patch4_224").AttnType);
        Assert.Equal(384, SlabDeitConfig.FromName("deit_small_patch16_224_linear_repbn").EmbedDim);
    }

    [Fact]
    public void BadInputs_ThrowClearErrors()
    {
        using var swin = new SlabSwinTransformer(SmallSwin);
        using (var wrongSize = torch.randn(1, 1, 20, 20))
            Assert.Contains("(B, 1, 16, 16)", Assert.Throws<ArgumentException>(() => swin.call(wrongSize)).Message);
        using (var wrongChannels = torch.randn(1, 3, 16, 16))
            Assert.Contains("(B, 1, 16, 16)", Assert.Throws<ArgumentException>(() => swin.call(wrongChannels)).Message);

        using var sla = new SimplifiedLinearAttention(16, 2, 7, 7);
        using (var tokens = torch.randn(2, 50, 16))
            Assert.Contains("7×7 = 49 tokens", Assert.Throws<ArgumentException>(() => sla.call(tokens)).Message);
        using (var tokens = torch.randn(2, 49, 8))
            Assert.Contains("16 channels", Assert.Throws<ArgumentException>(() => sla.call(tokens)).Message);

        Assert.Contains("multiple of 4", Assert.Throws<ArgumentException>(() => new SlabSwinTransformer(SmallSwin with { ImgSize = 18 })).Message);
        Assert.Contains("'L' (SLA) or 'S'", Assert.Throws<ArgumentException>(() => new SlabSwinTransformer(SmallSwin with { AttnType = "LX" })).Message);
        Assert.Contains("divisible by num_heads", Assert.Throws<ArgumentException>(() => new SimplifiedLinearAttention(10, 3, 2, 2)).Message);
        Assert.Contains("Unknown SLAB-Swin variant", Assert.Throws<ArgumentException>(() => SlabSwinConfig.FromName("swin_huge")).Message);

        using var lm = new SlabCausalLM(new SlabCausalLMConfig { VocabSize = 10, HiddenSize = 8, IntermediateSize = 16, NumLayers = 1, NumHeads = 2, MaxPositions = 6, Attention = LmAttentionKind.Sla });
        using (var floatIds = torch.zeros(1, 4))
            Assert.Contains("int64 token ids", Assert.Throws<ArgumentException>(() => lm.call(floatIds)).Message);
        using (var longIds = torch.zeros(new long[] { 1, 7 }, dtype: int64))
            Assert.Contains("exceeds MaxPositions = 6", Assert.Throws<ArgumentException>(() => lm.call(longIds)).Message);
        using var rms = new SlabCausalLM(lm.Config with { Norm = LmNormKind.RmsNorm });
        Assert.Contains("RMSNorm", Assert.Throws<InvalidOperationException>(() => rms.SwitchToDeploy()).Message);

        using var norm = new PRepBN(4);
        Assert.Throws<ArgumentOutOfRangeException>(() => norm.SetSchedule(60_001));
        using (var t = torch.randn(2, 3, 5))
            Assert.Contains("expected 4 channels", Assert.Throws<ArgumentException>(() => norm.call(t)).Message);
    }

    [Fact]
    public void RepBN_PadMask_KeepsPadsOutOfBatchStatistics()
    {
        torch.manual_seed(5);
        using var bn = new RepBN(3);
        using var real = torch.randn(2, 4, 3);
        using var padded = torch.cat(new[] { real, torch.full(new long[] { 2, 2, 3 }, 50f) }, 1);       // two pad tokens of value 50 per row
        using var mask = torch.cat(new[] { torch.ones(2, 4), torch.zeros(2, 2) }, 1);
        bn.train();
        using var y = bn.forward(padded, mask);
        using var reference = new RepBN(3);
        reference.train();
        using var yReal = reference.call(real);
        SlabFixtures.Close(log, yReal, y.narrow(1, 0, 4), "masked RepBN on real tokens", 1e-5);
        SlabFixtures.Close(log, reference.BatchNorm.running_mean!, bn.BatchNorm.running_mean!, "running mean ignores pads", 1e-6);
        // pads keep their input in the BN branch: x + alpha·x = 2x
        using var padOut = y.narrow(1, 4, 2);
        Assert.True(padOut.allclose(torch.full(new long[] { 2, 2, 3 }, 100f)));
    }
}

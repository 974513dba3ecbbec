using MLNetExtensions.Evaluators.TemporalLocalization;
using MLNetExtensions.Transforms.Fustal;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;
using MLNetExtensions.Transforms.Datasets;

namespace MLNetExtensions.Tests.Fustal;

/// <summary>
/// The pieces composed on the note's synthetic features (§9, small): CoLA trained on video labels only → proposals
/// (§3.5) → evaluator (§8), and prior-based selection (§4) on the training split.
/// </summary>
public sealed class FustalTeacherPipelineTests(ITestOutputHelper output)
{
    private const int T = 128;
    private const int Steps = 150;
    private const double SecondsPerSnippet = 16.0 / 25;

    private static readonly SyntheticUntrimmedOptions Data = new()
    {
        NumClasses = 3, FeatureDim = 32, MinLength = 100, MaxLength = 160, MaxInstanceLength = 30,
    };

    private static CoLA Train(List<SyntheticVideo> train, int seed, bool shuffleLabels = false)
    {
        manual_seed(seed);
        var rng = new Random(seed);
        var model = new CoLA(new CoLAConfig(FeatureDim: Data.FeatureDim, NumClasses: Data.NumClasses, EmbedDim: 64));
        using var opt = optim.Adam(model.parameters(), lr: 1e-3, weight_decay: 5e-4);
        var labels = train.Select(v => v.Labels).ToList();
        if (shuffleLabels) labels = labels.OrderBy(_ => rng.Next()).ToList();
        model.train();
        for (int step = 0; step < Steps; step++)
        {
            using var scope = NewDisposeScope();
            var batch = Enumerable.Range(0, 16).Select(_ => rng.Next(train.Count)).ToArray();
            var x = new float[16 * T * Data.FeatureDim];
            var y = new float[16 * Data.NumClasses];
            for (int b = 0; b < 16; b++)
            {
                var v = train[batch[b]];
                SnippetSampling.Gather(v.Features, v.FeatureDim, SnippetSampling.RandomPerturb(v.Length, T, rng)).CopyTo(x, b * T * Data.FeatureDim);
                labels[batch[b]].CopyTo(y, b * Data.NumClasses);
            }
            opt.zero_grad();
            using var o = model.call(tensor(x, new long[] { 16, T, Data.FeatureDim }));
            var (total, _, _, _) = CoLALoss.Total(o, tensor(y, new long[] { 16, Data.NumClasses }));
            total.backward();
            opt.step();
        }
        model.eval();
        return model;
    }

    private static (List<TemporalProposal> Proposals, float[] Scores) Propose(CoLA model, SyntheticVideo v)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var idx = SnippetSampling.Uniform(v.Length, T);
        using var o = model.call(tensor(SnippetSampling.Gather(v.Features, v.FeatureDim, idx), new long[] { 1, idx.Length, v.FeatureDim }));
        int c = Data.NumClasses;
        var casFlat = o.Cas.data<float>().ToArray();
        var cas = new float[idx.Length, c];
        for (int t = 0; t < idx.Length; t++) for (int k = 0; k < c; k++) cas[t, k] = casFlat[t * c + k];
        var scores = o.VideoScores.data<float>().ToArray();
        return (ProposalGenerator.Generate(cas, o.Actionness.data<float>().ToArray(), scores, v.Length), scores);
    }

    private static IEnumerable<GroundTruthSegment> Truth(IEnumerable<SyntheticVideo> videos) =>
        videos.SelectMany(v => v.InstancesInSeconds(SecondsPerSnippet).Select(i => new GroundTruthSegment(v.Id, i.Start, i.End, "c" + i.ClassIndex)));

    private static TemporalDetectionMetrics Evaluate(CoLA model, List<SyntheticVideo> test, out double accuracy)
    {
        var pred = new List<PredictedSegment>();
        int correct = 0;
        foreach (var v in test)
        {
            var (props, scores) = Propose(model, v);
            pred.AddRange(props.Select(p => new PredictedSegment(v.Id, p.Start, p.End, "c" + p.ClassIndex, p.Score)));
            if (Enumerable.Range(0, Data.NumClasses).All(k => (scores[k] >= 0.2f) == (v.Labels[k] == 1))) correct++;
        }
        accuracy = (double)correct / test.Count;
        return TemporalDetectionEvaluator.Evaluate(Truth(test), pred);
    }

    [Fact]
    public void TeacherLocalisesFromVideoLabelsAndShuffledLabelsDoNot()
    {
        var train = SyntheticUntrimmedFeatures.Generate(96, videoSeed: 1, Data);
        var test = SyntheticUntrimmedFeatures.Generate(32, videoSeed: 2, Data, prefix: "test_");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var model = Train(train, seed: 3);
        var trainSeconds = clock.Elapsed.TotalSeconds;
        var m = Evaluate(model, test, out var acc);
        output.WriteLine($"teacher: {m}  video accuracy {acc:0.000}  (train {trainSeconds:0.0} s, evaluate {clock.Elapsed.TotalSeconds - trainSeconds:0.0} s)");
        using var shuffled = Train(train, seed: 3, shuffleLabels: true);
        var s = Evaluate(shuffled, test, out var accShuffled);
        output.WriteLine($"shuffled labels: {s}  video accuracy {accShuffled:0.000}");

        // Pseudo labels on the training split: the density prior against the hidden ground truth.
        var gtByVideo = train.ToDictionary(v => v.Id, v => v.InstancesInSeconds(SecondsPerSnippet).ToList());
        int tpAll = 0, nAll = 0, tpSel = 0, nSel = 0;
        var dTp = new List<double>();
        var dFp = new List<double>();
        foreach (var v in train)
        {
            var (props, _) = Propose(model, v);
            var d = PseudoLabelSelection.Densities(props);
            var keep = PseudoLabelSelection.Select(props).ToHashSet();
            for (int i = 0; i < props.Count; i++)
            {
                bool tp = gtByVideo[v.Id].Any(g => g.ClassIndex == props[i].ClassIndex && SegmentMath.IoU(g.Start, g.End, props[i].Start, props[i].End) >= 0.5);
                nAll++; if (tp) tpAll++;
                if (keep.Contains(props[i])) { nSel++; if (tp) tpSel++; }
                (tp ? dTp : dFp).Add(d[i]);
            }
        }
        double auc = dTp.Sum(a => dFp.Sum(b => a > b ? 1.0 : a == b ? 0.5 : 0.0)) / Math.Max(1, (double)dTp.Count * dFp.Count);
        output.WriteLine($"pseudo labels: precision@0.5 all {tpAll}/{nAll}, selected {tpSel}/{nSel}; density AUC TP vs FP {auc:0.000}");

        Assert.True(acc > 0.4, $"video accuracy {acc}"); // exact label-set match; chance ≈ 1/6 (1–2 of 3 classes)
        Assert.True(m.MeanAveragePrecisionAt(0.1) > 0.3, m.ToString());
        Assert.True(m.MeanAveragePrecisionAt(0.1) > m.MeanAveragePrecisionAt(0.5) && m.MeanAveragePrecisionAt(0.5) >= m.MeanAveragePrecisionAt(0.7), m.ToString());
        Assert.True(s.AverageMeanAveragePrecision < 0.5 * m.AverageMeanAveragePrecision, $"shuffled {s} vs {m}");
        // The prior: true proposals are denser than false ones, and selection raises precision well above the raw pool's.
        Assert.True(auc > 0.6, $"density AUC {auc}");
        Assert.True((double)tpSel / nSel > 2.0 * tpAll / nAll, $"selected {tpSel}/{nSel} vs all {tpAll}/{nAll}");
    }
}

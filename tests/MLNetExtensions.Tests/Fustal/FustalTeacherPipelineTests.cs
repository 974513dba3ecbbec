using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Estimators.Fustal;
using MLNetExtensions.Evaluators.TemporalLocalization;
using MLNetExtensions.Transforms.Datasets;
using MLNetExtensions.Transforms.Fustal;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;

namespace MLNetExtensions.Tests.Fustal;

/// <summary>
/// The teacher estimator on the note's synthetic features (§9, small): <c>mlContext.TemporalLocalization().Trainers.FustalTeacher</c>
/// trained on video labels only → its transformer's proposals (§3.5) → the catalog evaluator (§8), the label-shuffle
/// control, and prior-based selection (§4) on the training split against the hidden ground truth.
/// </summary>
public sealed class FustalTeacherPipelineTests(ITestOutputHelper output)
{
    static FustalTeacherPipelineTests() => torch.set_num_threads(1);

    internal static readonly SyntheticUntrimmedOptions Data = new()
    {
        NumClasses = 3, FeatureDim = 32, MinLength = 100, MaxLength = 160, MaxInstanceLength = 30,
    };

    internal static FustalTeacher.Options TeacherOptions(int epochs = 25) => new()
    {
        FeatureSize = Data.FeatureDim, SampledLength = 128, EmbedDim = 64, MaxSnippets = 200,
        BatchSize = 16, MaxEpochs = epochs, LearningRate = 1e-3, Seed = 3, LogEveryNSteps = 0,
    };

    /// <summary>Per video: proposals read back from the transformer's segment columns.</summary>
    internal static Dictionary<string, List<TemporalProposal>> Proposals(IDataView scored) =>
        ProposalColumns.Read(scored).ToDictionary(kv => kv.Key, kv => kv.Value.ToList());

    internal static double VideoAccuracy(IDataView scored, int classes)
    {
        var scores = scored.GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToList();
        var labels = scored.GetColumn<VBuffer<uint>>("Label").Select(v => v.DenseValues().ToHashSet()).ToList();
        int correct = 0;
        for (int i = 0; i < scores.Count; i++)
            if (Enumerable.Range(0, classes).All(k => (scores[i][k] >= 0.2f) == labels[i].Contains((uint)k + 1))) correct++;
        return (double)correct / scores.Count;
    }

    [Fact]
    public void TeacherEstimatorLocalisesFromVideoLabelsAndShuffledLabelsDoNot()
    {
        var ml = new MLContext(seed: 1).RegisterMLNetExtensions();
        var trainVideos = SyntheticUntrimmedFeatures.Generate(96, videoSeed: 1, Data);
        var train = ml.Data.Cache(SyntheticUntrimmedDataView.Load(ml, trainVideos, Data.NumClasses));
        var test = ml.Data.Cache(SyntheticUntrimmedDataView.Load(ml, SyntheticUntrimmedFeatures.Generate(32, videoSeed: 2, Data, prefix: "test_"), Data.NumClasses));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var teacher = ml.TemporalLocalization().Trainers.FustalTeacher(TeacherOptions()).Fit(train);
        var trainSeconds = clock.Elapsed.TotalSeconds;
        var scored = teacher.Transform(test);
        var m = ml.TemporalLocalization().Evaluate(scored);
        var acc = VideoAccuracy(scored, Data.NumClasses);
        output.WriteLine($"teacher: {m}  video accuracy {acc:0.000}  (train {trainSeconds:0.0} s, evaluate {clock.Elapsed.TotalSeconds - trainSeconds:0.0} s)");

        var shuffledTrain = ml.Data.Cache(SyntheticUntrimmedDataView.Load(ml, trainVideos, Data.NumClasses, shuffleLabels: 7));
        using var shuffled = ml.TemporalLocalization().Trainers.FustalTeacher(TeacherOptions()).Fit(shuffledTrain);
        var s = ml.TemporalLocalization().Evaluate(shuffled.Transform(test));
        output.WriteLine($"shuffled labels: {s}");

        // Pseudo labels on the training split: the density prior against the hidden ground truth.
        var props = Proposals(teacher.Transform(train));
        var gtByVideo = trainVideos.ToDictionary(v => v.Id, v => v.InstancesInSeconds(SyntheticUntrimmedDataView.SecondsPerSnippet).ToList());
        int tpAll = 0, nAll = 0, tpSel = 0, nSel = 0;
        var dTp = new List<double>();
        var dFp = new List<double>();
        foreach (var (id, p) in props)
        {
            var d = PseudoLabelSelection.Densities(p);
            var keep = PseudoLabelSelection.Select(p).ToHashSet();
            for (int i = 0; i < p.Count; i++)
            {
                bool tp = gtByVideo[id].Any(g => g.ClassIndex == p[i].ClassIndex && SegmentMath.IoU(g.Start, g.End, p[i].Start, p[i].End) >= 0.5);
                nAll++; if (tp) tpAll++;
                if (keep.Contains(p[i])) { nSel++; if (tp) tpSel++; }
                (tp ? dTp : dFp).Add(d[i]);
            }
        }
        double auc = dTp.Sum(a => dFp.Sum(b => a > b ? 1.0 : a == b ? 0.5 : 0.0)) / Math.Max(1, (double)dTp.Count * dFp.Count);
        output.WriteLine($"pseudo labels: precision@0.5 all {tpAll}/{nAll}, selected {tpSel}/{nSel}; density AUC TP vs FP {auc:0.000}");

        Assert.True(acc > 0.4, $"video accuracy {acc}"); // exact label-set match; chance ≈ 1/6 (1–2 of 3 classes)
        Assert.True(m.MeanAveragePrecisionAt(0.1) > 0.3, m.ToString());
        Assert.True(m.MeanAveragePrecisionAt(0.1) > m.MeanAveragePrecisionAt(0.5) && m.MeanAveragePrecisionAt(0.5) > m.MeanAveragePrecisionAt(0.7), m.ToString());
        Assert.True(s.AverageMeanAveragePrecision < 0.5 * m.AverageMeanAveragePrecision, $"shuffled {s} vs {m}");
        // The prior: true proposals are denser than false ones, and selection raises precision well above the raw pool's.
        Assert.True(auc > 0.6, $"density AUC {auc}");
        Assert.True((double)tpSel / nSel > 2.0 * tpAll / nAll, $"selected {tpSel}/{nSel} vs all {tpAll}/{nAll}");
    }
}

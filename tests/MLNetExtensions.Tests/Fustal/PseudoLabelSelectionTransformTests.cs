using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Estimators.Fustal;
using MLNetExtensions.Evaluators.TemporalLocalization;
using MLNetExtensions.Transforms.Fustal;
using Xunit;

namespace MLNetExtensions.Tests.Fustal;

/// <summary>The selection stage as an ML.NET transform (note §4) and the pseudo-label quality measures (§9.3).</summary>
public sealed class PseudoLabelSelectionTransformTests
{
    public sealed class Row
    {
        public string VideoId { get; set; } = "";
        public float[] SegmentStart { get; set; } = Array.Empty<float>();
        public float[] SegmentEnd { get; set; } = Array.Empty<float>();
        public float[] SegmentScore { get; set; } = Array.Empty<float>();
        [KeyType(2)] public uint[] SegmentLabel { get; set; } = Array.Empty<uint>();
    }

    public sealed class Out
    {
        public float[] PseudoStart { get; set; } = Array.Empty<float>();
        public float[] PseudoScore { get; set; } = Array.Empty<float>();
        public uint[] PseudoLabel { get; set; } = Array.Empty<uint>();
        public float[] PseudoDensity { get; set; } = Array.Empty<float>();
    }

    private static readonly Row[] Rows =
    {
        // Three overlapping proposals of two classes (pooled density) and an isolated confident one.
        new() { VideoId = "a", SegmentStart = new[] { 0f, 1, 2, 20 }, SegmentEnd = new[] { 10f, 11, 12, 22 }, SegmentScore = new[] { 0.9f, 0.5f, 0.3f, 0.95f }, SegmentLabel = new uint[] { 1, 2, 1, 1 } },
        new() { VideoId = "b" },
    };

    private static IDataView Data(MLContext ml)
    {
        var def = SchemaDefinition.Create(typeof(Row));
        def["SegmentLabel"].ColumnType = new VectorDataViewType(new KeyDataViewType(typeof(uint), 2));
        return ml.Data.LoadFromEnumerable(Rows, def);
    }

    [Fact]
    public void TransformKeepsDenseConfidentProposalsAsSelectDoesAndRoundTrips()
    {
        var ml = new MLContext(1).RegisterMLNetExtensions();
        var data = Data(ml);
        var model = ml.TemporalLocalization().Transforms.SelectPseudoLabels(gamma: 0.2, eta: 0.4).Fit(data);
        var outRows = ml.Data.CreateEnumerable<Out>(model.Transform(data), reuseRowObject: false).ToList();
        var props = Enumerable.Range(0, 4).Select(i => new TemporalProposal((int)Rows[0].SegmentLabel[i] - 1, Rows[0].SegmentScore[i], Rows[0].SegmentStart[i], Rows[0].SegmentEnd[i])).ToList();
        var expected = PseudoLabelSelection.Select(props);
        Assert.Equal(expected.Select(p => (float)p.Start), outRows[0].PseudoStart);
        Assert.Equal(expected.Select(p => (uint)p.ClassIndex + 1), outRows[0].PseudoLabel);
        Assert.Equal(new[] { 0f, 1 }, outRows[0].PseudoStart); // the isolated 0.95 proposal (d = 0) and the 0.3 one (η) are dropped
        Assert.Equal(PseudoLabelSelection.Densities(props).Select(d => (float)d), outRows[0].PseudoDensity);
        Assert.Empty(outRows[1].PseudoStart);
        // Key values of the input classes carry over; γ = 0 keeps the isolated one; η = −∞ keeps all.
        var all = ml.TemporalLocalization().Transforms.SelectPseudoLabels(0, double.NegativeInfinity).Fit(data).Transform(data);
        Assert.Equal(4, all.GetColumn<VBuffer<float>>("PseudoStart").First().Length);
        // Save/Load and the PredictionEngine path.
        var zip = Path.Combine(Path.GetTempPath(), "fustal-select-" + Guid.NewGuid().ToString("N") + ".zip");
        try
        {
            ml.Model.Save(model, data.Schema, zip);
            var loaded = ml.Model.Load(zip, out _);
            var engine = ml.Model.CreatePredictionEngine<Row, Out>(loaded);
            Assert.Equal(outRows[0].PseudoScore, engine.Predict(Rows[0]).PseudoScore);
        }
        finally { File.Delete(zip); }
    }

    [Fact]
    public void MissingOrMistypedProposalColumnsAreNamed()
    {
        var ml = new MLContext(1);
        var data = ml.Transforms.DropColumns("SegmentScore").Fit(Data(ml)).Transform(Data(ml));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ml.TemporalLocalization().Transforms.SelectPseudoLabels().Fit(data));
        Assert.Contains("'SegmentScore'", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.TemporalLocalization().Transforms.SelectPseudoLabels(new PseudoLabelSelectionOptions { Gamma = double.NaN }));
    }

    [Fact]
    public void QualityMeasuresCountTruePseudoSegmentsRecallBestIoUAndTheDensityAuc()
    {
        var truth = new Dictionary<string, IReadOnlyList<ActionInstance>>
        {
            ["a"] = new[] { new ActionInstance(0, 0, 10), new ActionInstance(1, 20, 30) },
            ["b"] = new[] { new ActionInstance(0, 0, 4) },
        };
        var kept = new Dictionary<string, IReadOnlyList<TemporalProposal>>
        {
            ["a"] = new[] { new TemporalProposal(0, 0.9, 0, 8), new TemporalProposal(0, 0.8, 1, 9), new TemporalProposal(1, 0.7, 40, 50) },
        };
        var q = PseudoLabelQuality.Measure(truth, kept);
        Assert.Equal(2.0 / 3, q.Precision, 12);       // two of three pseudo segments hit a same-class instance at IoU ≥ 0.5
        Assert.Equal(1.0 / 3, q.Recall, 12);          // one of three instances covered
        Assert.Equal((0.8 + 0 + 0) / 3, q.MeanBestIoU, 12);
        Assert.Equal(1.5, q.SegmentsPerVideo, 12);
        Assert.Equal(2, q.SegmentsPerInstance, 12);   // both class-0 segments overlap the covered instance
        Assert.Equal(1.0, PseudoLabelQuality.Auc(new[] { 3.0, 2 }, new[] { 1.0, 0 }));
        Assert.Equal(0.5, PseudoLabelQuality.Auc(new[] { 1.0 }, new[] { 1.0 }));
        Assert.Equal(0.75, PseudoLabelQuality.Auc(new[] { 2.0, 0.5 }, new[] { 1.0, 0 }));
    }
}

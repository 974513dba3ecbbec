using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Evaluators.TemporalLocalization;
using Xunit;

namespace MLNetExtensions.Tests.Fustal;

public sealed class TemporalLocalizationCatalogTests
{
    private sealed class VideoRow
    {
        public string VideoId { get; set; } = "";
        public float[] SegmentStart { get; set; } = Array.Empty<float>();
        public float[] SegmentEnd { get; set; } = Array.Empty<float>();
        public string[] SegmentClass { get; set; } = Array.Empty<string>();
        public float[] SegmentScore { get; set; } = Array.Empty<float>();
        public float[] GroundTruthStart { get; set; } = Array.Empty<float>();
        public float[] GroundTruthEnd { get; set; } = Array.Empty<float>();
        public string[] GroundTruthClass { get; set; } = Array.Empty<string>();
    }

    // The note's worked example as per-video rows, with a second class so key domains differ between the columns.
    private static VideoRow[] Rows() => new[]
    {
        new VideoRow
        {
            VideoId = "v1",
            SegmentStart = new[] { 11f, 12f, 31f, 29f }, SegmentEnd = new[] { 21f, 19f, 45f, 41f },
            SegmentClass = new[] { "A", "A", "A", "A" }, SegmentScore = new[] { 0.9f, 0.8f, 0.6f, 0.4f },
            GroundTruthStart = new[] { 10f, 30f, 50f }, GroundTruthEnd = new[] { 20f, 40f, 60f }, GroundTruthClass = new[] { "A", "A", "B" },
        },
        new VideoRow
        {
            VideoId = "v2",
            SegmentStart = new[] { 0f, 50f }, SegmentEnd = new[] { 14f, 60f }, SegmentClass = new[] { "A", "B" }, SegmentScore = new[] { 0.7f, 0.3f },
            GroundTruthStart = new[] { 5f }, GroundTruthEnd = new[] { 15f }, GroundTruthClass = new[] { "A" },
        },
        new VideoRow { VideoId = "v3", SegmentStart = new[] { 0f }, SegmentEnd = new[] { 5f }, SegmentClass = new[] { "A" }, SegmentScore = new[] { 0.5f } },
    };

    private static IDataView Load(MLContext ml, IEnumerable<VideoRow> rows)
    {
        var data = ml.Data.LoadFromEnumerable(rows);
        // Separate key domains: B is key 1 of the ground truth ("A","B" order of appearance) but a different key in predictions.
        return ml.Transforms.Conversion.MapValueToKey("SegmentLabel", "SegmentClass")
            .Append(ml.Transforms.Conversion.MapValueToKey("GroundTruthLabel", "GroundTruthClass", keyOrdinality: Microsoft.ML.Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByValue))
            .Fit(data).Transform(data);
    }

    [Fact]
    public void CatalogEvaluatesPerVideoRowsByClassName()
    {
        var ml = new MLContext(1);
        var m = ml.TemporalLocalization().Evaluate(Load(ml, Rows()), new TemporalDetectionEvaluatorOptions { Thresholds = new[] { 0.5, 0.7 } });
        Assert.Equal(new[] { "A", "B" }, m.Classes);
        Assert.Equal(5.0 / 6, m.GetAveragePrecision("A", 0), 12);
        Assert.Equal(4.0 / 9, m.GetAveragePrecision("A", 1), 12);
        // B's only prediction is on v2, B's only instance on v1: a false positive.
        Assert.Equal(0.0, m.GetAveragePrecision("B", 0));
        Assert.Equal(new[] { 6, 1 }, m.PredictionCounts);
    }

    [Fact]
    public void CatalogEqualsThePlainApi()
    {
        var ml = new MLContext(1);
        var rows = Rows();
        var gt = rows.SelectMany(r => r.GroundTruthStart.Select((s, i) => new GroundTruthSegment(r.VideoId, s, r.GroundTruthEnd[i], r.GroundTruthClass[i])));
        var pred = rows.SelectMany(r => r.SegmentStart.Select((s, i) => new PredictedSegment(r.VideoId, s, r.SegmentEnd[i], r.SegmentClass[i], r.SegmentScore[i])));
        var viaCatalog = ml.TemporalLocalization().Evaluate(Load(ml, rows));
        var plain = ml.TemporalLocalization().Evaluate(gt, pred);
        Assert.Equal(plain.MeanAveragePrecision, viaCatalog.MeanAveragePrecision);
        Assert.Equal(plain.AverageMeanAveragePrecision, viaCatalog.AverageMeanAveragePrecision);
    }

    [Fact]
    public void CustomGroundTruthColumnNamesAreHonoured()
    {
        var ml = new MLContext(1);
        var view = Load(ml, Rows());
        var renamed = ml.Transforms.CopyColumns("TruthS", "GroundTruthStart")
            .Append(ml.Transforms.CopyColumns("TruthE", "GroundTruthEnd"))
            .Append(ml.Transforms.CopyColumns("TruthL", "GroundTruthLabel"))
            .Append(ml.Transforms.DropColumns("GroundTruthStart", "GroundTruthEnd", "GroundTruthLabel"))
            .Fit(view).Transform(view);
        var m = ml.TemporalLocalization().Evaluate(renamed, new TemporalDetectionEvaluatorOptions
        {
            GroundTruthStartColumnName = "TruthS", GroundTruthEndColumnName = "TruthE", GroundTruthLabelColumnName = "TruthL", Thresholds = new[] { 0.5 },
        });
        Assert.Equal(5.0 / 12, m.MeanAveragePrecision[0], 12);
    }

    [Fact]
    public void ErrorsNameTheColumnAndTheExpectation()
    {
        var ml = new MLContext(1);
        var view = Load(ml, Rows());
        var ex = Assert.Throws<ArgumentException>(() => ml.TemporalLocalization().Evaluate(view, new TemporalDetectionEvaluatorOptions { ScoreColumnName = "Confidence" }));
        Assert.Contains("'Confidence'", ex.Message);
        Assert.Contains("Vector<Single>", ex.Message);

        // Text labels instead of keys.
        ex = Assert.Throws<ArgumentException>(() => ml.TemporalLocalization().Evaluate(view, new TemporalDetectionEvaluatorOptions { LabelColumnName = "SegmentClass" }));
        Assert.Contains("'SegmentClass'", ex.Message);
        Assert.Contains("Vector<Key<UInt32>>", ex.Message);

        ex = Assert.Throws<ArgumentException>(() => ml.TemporalLocalization().Evaluate(view, new TemporalDetectionEvaluatorOptions { StartColumnName = "SegmentLabel" }));
        Assert.Contains("'SegmentLabel'", ex.Message);

        var bad = Rows();
        bad[1].SegmentScore = new[] { 0.7f };
        ex = Assert.Throws<ArgumentException>(() => ml.TemporalLocalization().Evaluate(Load(ml, bad)));
        Assert.Contains("'SegmentScore'", ex.Message);
        Assert.Contains("v2", ex.Message);
    }
}

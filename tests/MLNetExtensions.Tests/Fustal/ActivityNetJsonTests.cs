using System.Text;
using MLNetExtensions.Evaluators.TemporalLocalization;
using Xunit;

namespace MLNetExtensions.Tests.Fustal;

public sealed class ActivityNetJsonTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fustal-json-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void GroundTruthAndPredictionsRoundTripExactly()
    {
        var gt = new[]
        {
            new GroundTruthSegment("video_test_0000004", 0.1 + 0.2, 1.0 / 3, "CricketBowling"),
            new GroundTruthSegment("video_test_0000007", 12.5, 20.25, "Diving"),
            new GroundTruthSegment("video_test_0000004", 30, 31.7, "Diving"),
        };
        var pred = new[]
        {
            new PredictedSegment("video_test_0000007", 11.999999999999998, 20, "Diving", 0.8999999999999999),
            new PredictedSegment("video_test_0000004", 0, 1e-7, "CricketBowling", 1e-300),
        };
        var gtPath = Path.Combine(_dir, "gt.json");
        var predPath = Path.Combine(_dir, "pred.json");
        ActivityNetJson.WriteGroundTruth(gtPath, gt, subset: "test", durations: new Dictionary<string, double> { ["video_test_0000004"] = 171.6 });
        ActivityNetJson.WritePredictions(predPath, pred);

        // Grouped by video in first-appearance order, values bit-identical.
        var gtBack = ActivityNetJson.ReadGroundTruth(gtPath, subset: "test");
        Assert.Equal(new[] { gt[0], gt[2], gt[1] }, gtBack);
        Assert.Equal(pred, ActivityNetJson.ReadPredictions(predPath));
        Assert.Empty(ActivityNetJson.ReadGroundTruth(gtPath, subset: "validation"));
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));
        Assert.Contains("\"duration\": 171.6", File.ReadAllText(gtPath));
        Assert.Contains("\"external_data\"", File.ReadAllText(predPath));
    }

    [Fact]
    public void WriteReplacesAnExistingFile()
    {
        var path = Path.Combine(_dir, "pred.json");
        File.WriteAllText(path, "old content that is not json");
        ActivityNetJson.WritePredictions(path, new[] { new PredictedSegment("v", 1, 2, "A", 0.5) });
        Assert.Single(ActivityNetJson.ReadPredictions(path));
        Assert.Equal(new[] { path }, Directory.GetFiles(_dir));
    }

    [Fact]
    public void ReadsTheOfficialLayoutAndFiltersTheSubset()
    {
        const string gtJson = """
        {"version": "THUMOS14", "taxonomy": [],
         "database": {
           "video_validation_1": {"subset": "validation", "duration": 10, "annotations": [{"segment": [1, 2], "label": "A"}]},
           "video_test_1": {"subset": "test", "duration": 10, "annotations": [{"segment": [3.5, 4.25], "label": "B"}, {"segment": [5, 6], "label": "A"}]},
           "video_test_2": {"subset": "test", "annotations": []}}}
        """;
        var test = ActivityNetJson.ReadGroundTruth(new MemoryStream(Encoding.UTF8.GetBytes(gtJson)), "test");
        Assert.Equal(new[] { new GroundTruthSegment("video_test_1", 3.5, 4.25, "B"), new GroundTruthSegment("video_test_1", 5, 6, "A") }, test);
        Assert.Equal(3, ActivityNetJson.ReadGroundTruth(new MemoryStream(Encoding.UTF8.GetBytes(gtJson))).Count);

        const string predJson = """
        {"version": "x", "results": {"video_test_1": [{"label": "B", "score": 0.7, "segment": [3.5, 4.0]}]}, "external_data": {}}
        """;
        var pred = ActivityNetJson.ReadPredictions(new MemoryStream(Encoding.UTF8.GetBytes(predJson)));
        Assert.Equal(new PredictedSegment("video_test_1", 3.5, 4.0, "B", 0.7), Assert.Single(pred));
    }

    [Theory]
    [InlineData("""{"results": {}}""", "database")]
    [InlineData("""{"database": {"v": {"subset": "test", "annotations": [{"segment": [1], "label": "A"}]}}}""", "database.v.annotations[0].segment")]
    [InlineData("""{"database": {"v": {"subset": "test", "annotations": [{"segment": [1, 2]}]}}}""", "\"label\"")]
    public void MalformedGroundTruthNamesTheField(string json, string expected)
    {
        var ex = Assert.Throws<InvalidDataException>(() => ActivityNetJson.ReadGroundTruth(new MemoryStream(Encoding.UTF8.GetBytes(json)), "test"));
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void MalformedPredictionsNameTheField()
    {
        var ex = Assert.Throws<InvalidDataException>(() =>
            ActivityNetJson.ReadPredictions(new MemoryStream(Encoding.UTF8.GetBytes("""{"results": {"v": [{"label": "A", "score": "high", "segment": [0, 1]}]}}"""))));
        Assert.Contains("results.v[0].score", ex.Message);
    }

    [Fact]
    public void EvaluatingFilesGivesTheWorkedExample()
    {
        var gt = new[] { new GroundTruthSegment("v1", 10, 20, "A"), new GroundTruthSegment("v1", 30, 40, "A"), new GroundTruthSegment("v2", 5, 15, "A") };
        var pred = new[]
        {
            new PredictedSegment("v1", 11, 21, "A", 0.9), new PredictedSegment("v1", 12, 19, "A", 0.8), new PredictedSegment("v2", 0, 14, "A", 0.7),
            new PredictedSegment("v1", 31, 45, "A", 0.6), new PredictedSegment("v3", 0, 5, "A", 0.5), new PredictedSegment("v1", 29, 41, "A", 0.4),
        };
        var gtPath = Path.Combine(_dir, "gt.json");
        var predPath = Path.Combine(_dir, "pred.json");
        ActivityNetJson.WriteGroundTruth(gtPath, gt);
        ActivityNetJson.WritePredictions(predPath, pred);
        var m = TemporalDetectionEvaluator.Evaluate(ActivityNetJson.ReadGroundTruth(gtPath, "test"), ActivityNetJson.ReadPredictions(predPath));
        Assert.Equal(5.0 / 6, m.MeanAveragePrecisionAt(0.5), 12);
        Assert.Equal(4.0 / 9, m.MeanAveragePrecisionAt(0.7), 12);
    }
}

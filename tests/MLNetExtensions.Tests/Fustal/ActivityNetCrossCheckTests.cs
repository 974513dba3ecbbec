using System.Text.Json;
using MLNetExtensions.Evaluators.TemporalLocalization;
using Xunit;

namespace MLNetExtensions.Tests.Fustal;

/// <summary>
/// 40 random cases (ties, tIoU on coarse grids, 9–10 classes, predictions on videos and classes without ground truth)
/// scored by an independent plain-Python port of ActivityNet's evaluator (tools/make_anet_fixture.py); the numbers
/// are committed, so python is not needed here. Agreement must be bit-exact.
/// </summary>
public sealed class ActivityNetCrossCheckTests
{
    private static string FixturePath()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "MLNetExtensions.sln")))
                return Path.Combine(d.FullName, "tests", "MLNetExtensions.Tests", "Fustal", "data", "anet_cases.json");
        throw new InvalidOperationException("Repository root (MLNetExtensions.sln) not found above " + AppContext.BaseDirectory);
    }

    [Fact]
    public void EvaluatorMatchesTheReferencePortBitForBit()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(FixturePath()));
        var thresholds = doc.RootElement.GetProperty("thresholds").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(NumpyCompat.Linspace(0.1, 0.7, 7), thresholds);
        int n = 0;
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            var gt = c.GetProperty("groundTruth").EnumerateArray()
                .Select(g => new GroundTruthSegment(g[0].GetString()!, g[1].GetDouble(), g[2].GetDouble(), g[3].GetString()!)).ToList();
            var pred = c.GetProperty("predictions").EnumerateArray()
                .Select(p => new PredictedSegment(p[0].GetString()!, p[1].GetDouble(), p[2].GetDouble(), p[3].GetString()!, p[4].GetDouble())).ToList();
            var m = TemporalDetectionEvaluator.Evaluate(gt, pred);
            Assert.Equal(c.GetProperty("classes").EnumerateArray().Select(e => e.GetString()), m.Classes);
            var ap = c.GetProperty("ap").EnumerateArray().Select(r => r.EnumerateArray().Select(e => e.GetDouble()).ToArray()).ToArray();
            for (int t = 0; t < ap.Length; t++) Assert.Equal(ap[t], m.AveragePrecision[t]);
            Assert.Equal(c.GetProperty("mAP").EnumerateArray().Select(e => e.GetDouble()), m.MeanAveragePrecision);
            Assert.Equal(c.GetProperty("averageMAP").GetDouble(), m.AverageMeanAveragePrecision);
            Assert.Equal(pred.Count(p => !m.Classes.Contains(p.Label)), m.DroppedPredictions); // "absent" and classes whose instances all fell out
            n++;
        }
        Assert.Equal(40, n);
    }
}

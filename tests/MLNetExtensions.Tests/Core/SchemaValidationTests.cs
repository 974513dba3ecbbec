using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Tests.Infrastructure;
using Xunit;

namespace MLNetExtensions.Tests.Core;

/// <summary>Bad inputs fail before any training, with a message naming the column and what was expected.</summary>
public class SchemaValidationTests
{
    private sealed class Row
    {
        [VectorType(1, 8, 8)] public float[] Pixels { get; set; } = new float[64];
        public float RawLabel { get; set; }
    }

    private static TestCnnTrainer Trainer(MLContext ml, Action<TestCnnTrainer.Options>? edit = null)
    {
        var o = new TestCnnTrainer.Options { ImageColumnName = "Pixels", MaxEpochs = 1, Seed = 1 };
        edit?.Invoke(o);
        return new TestCnnTrainer(ml, o);
    }

    private static IDataView Keyed(MLContext ml, IEnumerable<Row> rows) =>
        ml.Transforms.Conversion.MapValueToKey("Label", "RawLabel").Fit(ml.Data.LoadFromEnumerable(rows)).Transform(ml.Data.LoadFromEnumerable(rows));

    private static Row[] Rows(int n) => Enumerable.Range(0, n).Select(i => new Row { RawLabel = i % 2, Pixels = Enumerable.Repeat(i / (float)n, 64).ToArray() }).ToArray();

    [Fact]
    public void MissingImageColumnIsNamedAtFitAndAtGetOutputSchema()
    {
        var ml = new MLContext(1);
        var data = Keyed(ml, Rows(8));
        var e = Assert.ThrowsAny<ArgumentException>(() => Trainer(ml, o => o.ImageColumnName = "Photo").Fit(data));
        Assert.Contains("'Photo'", e.Message);
        var e2 = Assert.ThrowsAny<ArgumentException>(() => Trainer(ml, o => o.ImageColumnName = "Photo").GetOutputSchema(MLNetExtensions.Core.Interop.MLNetInternals.ShapeOf(data.Schema)));
        Assert.Contains("'Photo'", e2.Message);
    }

    [Fact]
    public void NonKeyLabelIsRejectedWithAHint()
    {
        var ml = new MLContext(1);
        var data = ml.Transforms.CopyColumns("Label", "RawLabel").Fit(ml.Data.LoadFromEnumerable(Rows(8))).Transform(ml.Data.LoadFromEnumerable(Rows(8)));
        var e = Assert.ThrowsAny<ArgumentException>(() => Trainer(ml).Fit(data));
        Assert.Contains("'Label'", e.Message);
        Assert.Contains("MapValueToKey", e.Message);
        Assert.ThrowsAny<ArgumentException>(() => Trainer(ml).GetOutputSchema(MLNetExtensions.Core.Interop.MLNetInternals.ShapeOf(data.Schema)));
    }

    [Fact]
    public void WrongVectorSizeAndWrongTypeAreRejected()
    {
        var ml = new MLContext(1);
        var data = Keyed(ml, Rows(8));
        var e = Assert.ThrowsAny<ArgumentException>(() => Trainer(ml, o => { o.ImageChannels = 3; o.ImageHeight = 8; o.ImageWidth = 8; }).Fit(data));
        Assert.Contains("'Pixels'", e.Message);
        Assert.Contains("64", e.Message);
        var e2 = Assert.ThrowsAny<ArgumentException>(() => Trainer(ml, o => o.ImageColumnName = "RawLabel").Fit(data));
        Assert.Contains("'RawLabel'", e2.Message);
    }

    [Fact]
    public void NaNPixelsFailBeforeTheFirstStep()
    {
        var ml = new MLContext(1);
        var rows = Rows(8);
        rows[0].Pixels[3] = float.NaN;
        int reports = 0;
        var e = Assert.Throws<InvalidDataException>(() => Trainer(ml, o => { o.LogEveryNSteps = 1; o.Progress = new Progress<MLNetExtensions.Core.Training.TrainingProgress>(_ => reports++); }).Fit(Keyed(ml, rows)));
        Assert.Contains("'Pixels'", e.Message);
        Assert.Contains("NaN", e.Message);
        Assert.Equal(0, reports);
    }

    [Fact]
    public void EmptyDataAndBadOptionsAreRejected()
    {
        var ml = new MLContext(1);
        var empty = ml.Data.FilterRowsByColumn(Keyed(ml, Rows(4)), "RawLabel", 100, 200);
        var e = Assert.ThrowsAny<Exception>(() => Trainer(ml).Fit(empty));
        Assert.Contains("no rows", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Trainer(ml, o => o.BatchSize = 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Trainer(ml, o => o.LearningRate = -1));
        Assert.Throws<ArgumentException>(() => Trainer(ml, o => o.EarlyStoppingPatience = 2)); // needs a validation set
        Assert.Throws<ArgumentException>(() => Trainer(ml, o => o.Device = "tpu"));
        Assert.Throws<FileNotFoundException>(() => Trainer(ml, o => o.PretrainedWeightsPath = "/nonexistent/weights.pt"));
    }

    [Fact]
    public void TransformerRejectsAnInputOfTheWrongSize()
    {
        var ml = new MLContext(1);
        using var model = Trainer(ml).Fit(Keyed(ml, Rows(16)));
        var other = ml.Data.LoadFromEnumerable(new[] { new { Pixels = new float[10] } }.Select(r => new BadRow()));
        var e = Assert.ThrowsAny<ArgumentException>(() => model.GetOutputSchema(other.Schema));
        Assert.Contains("'Pixels'", e.Message);
    }

    private sealed class BadRow
    {
        [VectorType(1, 4, 4)] public float[] Pixels { get; set; } = new float[16];
    }
}

using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Tests.Infrastructure;
using Xunit;

namespace MLNetExtensions.Tests.Core;

/// <summary>Issue 13.4–13.6: bad options and inputs are named before training; killed saves leave no debris.</summary>
public sealed class ClearErrorTests : IDisposable
{
    private readonly string _tmp = Path.Combine(Path.GetTempPath(), "mlnetext-errors-" + Guid.NewGuid().ToString("N"));
    public ClearErrorTests() => Directory.CreateDirectory(_tmp);
    public void Dispose() { try { Directory.Delete(_tmp, true); } catch (IOException) { } }

    private sealed class Row
    {
        [VectorType(1, 8, 8)] public float[] Pixels { get; set; } = new float[64];
        public float RawLabel { get; set; }
    }

    private sealed class KeyRow { public float RawLabel { get; set; } }

    private static IDataView Data(MLContext ml, int n, Func<int, float> label, float pixelScale = 1)
    {
        var rows = Enumerable.Range(0, n).Select(i => new Row
        {
            RawLabel = label(i),
            Pixels = Enumerable.Range(0, 64).Select(j => pixelScale * (((i * 7 + j) % 13) / 13f)).ToArray(),
        }).ToArray();
        var view = ml.Data.LoadFromEnumerable(rows);
        // Key type over two values even when the rows use one (the single-class case).
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label", "RawLabel",
            keyData: ml.Data.LoadFromEnumerable(new[] { new KeyRow { RawLabel = 0 }, new KeyRow { RawLabel = 1 } }));
        return keyed.Fit(view).Transform(view);
    }

    private static TestCnnTrainer Trainer(MLContext ml, Action<TestCnnTrainer.Options>? edit = null)
    {
        var o = new TestCnnTrainer.Options { ImageColumnName = "Pixels", MaxEpochs = 1, Seed = 1, BatchSize = 4 };
        edit?.Invoke(o);
        return new TestCnnTrainer(ml, o);
    }

    [Theory]
    [InlineData("LearningRate", double.PositiveInfinity)]
    [InlineData("LearningRate", double.NaN)]
    [InlineData("WeightDecay", double.PositiveInfinity)]
    [InlineData("GradientClipNorm", double.NaN)]
    public void NonFiniteNumericOptionsAreNamed(string option, double value)
    {
        var o = new TestCnnTrainer.Options();
        typeof(TestCnnTrainer.Options).GetProperty(option)!.SetValue(o, value);
        var e = Assert.Throws<ArgumentOutOfRangeException>(o.Validate);
        Assert.Equal(option, e.ParamName);
        Assert.Contains("finite", e.Message);
    }

    [Fact]
    public void NonFiniteMeanOrStdIsNamed()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new TestCnnTrainer.Options { Mean = new[] { float.NaN, 0f, 0f } }.Validate());
        Assert.Equal("Mean", e.ParamName);
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => new TestCnnTrainer.Options { Std = new[] { 1f, float.PositiveInfinity, 1f } }.Validate());
        Assert.Equal("Std", e2.ParamName);
    }

    [Fact]
    public void HugeFinitePixelsAreBlamedNotTheLearningRate()
    {
        var ml = new MLContext(1);
        var e = Assert.Throws<InvalidDataException>(() => Trainer(ml).Fit(Data(ml, 16, i => i % 2, pixelScale: 3e38f)));
        Assert.Contains("'Pixels'", e.Message);
        Assert.Contains("far outside", e.Message);
    }

    [Fact]
    public void CheckpointDirectoryThatIsAFileIsNamed()
    {
        var file = Path.Combine(_tmp, "not-a-folder");
        File.WriteAllText(file, "x");
        var e = Assert.Throws<ArgumentException>(() => new TestCnnTrainer.Options { CheckpointDirectory = file }.Validate());
        Assert.Equal("CheckpointDirectory", e.ParamName);
        Assert.Contains("is a file", e.Message);
    }

    [Fact]
    public void EmptyTextAndModelZipPretrainedWeightsAreNamedForWhatTheyAre()
    {
        var ml = new MLContext(1);
        var data = Data(ml, 8, i => i % 2);
        var empty = Path.Combine(_tmp, "empty.pt");
        File.WriteAllBytes(empty, Array.Empty<byte>());
        var text = Path.Combine(_tmp, "weights.pt");
        File.WriteAllText(text, "these are not weights\n");
        var model = Trainer(ml).Fit(data);
        var zip = Path.Combine(_tmp, "model.zip");
        ml.Model.Save(model, data.Schema, zip);
        model.Dispose();

        Assert.Contains("empty file", Assert.ThrowsAny<ArgumentException>(() => Trainer(ml, o => o.PretrainedWeightsPath = empty).Fit(data)).Message);
        Assert.Contains("text file", Assert.ThrowsAny<ArgumentException>(() => Trainer(ml, o => o.PretrainedWeightsPath = text).Fit(data)).Message);
        var z = Assert.ThrowsAny<ArgumentException>(() => Trainer(ml, o => o.PretrainedWeightsPath = zip).Fit(data));
        Assert.Contains("ML.NET model zip", z.Message);
        Assert.Contains("mlContext.Model.Load", z.Message);
    }

    [Fact]
    public void SingleClassTrainingDataIsRejectedBeforeTraining()
    {
        var ml = new MLContext(1);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Trainer(ml).Fit(Data(ml, 12, _ => 1)));
        Assert.Equal("Label", e.ParamName);
        Assert.Contains("single class", e.Message);
    }

    [Fact]
    public void DebrisOfKilledSavesIsRemovedAtTheNextStart()
    {
        var ml = new MLContext(1);
        var dir = Path.Combine(_tmp, "ckpt");
        var data = Data(ml, 8, i => i % 2);
        Trainer(ml, o => o.CheckpointDirectory = dir).Fit(data).Dispose();
        Assert.True(Directory.Exists(Path.Combine(dir, "latest")));
        // What SIGKILL mid-save leaves: a half-written temp folder of a dead process and a half-deleted latest.old.
        var deadTmp = Path.Combine(dir, "latest.tmp-2147483000");
        Directory.CreateDirectory(deadTmp);
        File.WriteAllText(Path.Combine(deadTmp, "model.safetensors"), "half");
        var old = Path.Combine(dir, "latest.old");
        Directory.CreateDirectory(old);
        File.WriteAllText(Path.Combine(old, "state.json"), "{");

        var store = new TrainingCheckpointStore(dir);
        Assert.Contains("latest.tmp-2147483000", store.RemovedDebris);
        Assert.Contains("latest.old", store.RemovedDebris);
        Assert.False(Directory.Exists(deadTmp));
        Assert.False(Directory.Exists(old));
        Assert.True(Directory.Exists(Path.Combine(dir, "latest")));

        // Only a complete latest.old left (killed between the two renames): it becomes latest and resumes.
        Directory.Move(Path.Combine(dir, "latest"), old);
        _ = new TrainingCheckpointStore(dir);
        Assert.True(Directory.Exists(Path.Combine(dir, "latest")));
        Assert.False(Directory.Exists(old));
    }
}

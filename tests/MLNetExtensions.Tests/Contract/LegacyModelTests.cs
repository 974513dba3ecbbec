using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.IO;
using Xunit;

namespace MLNetExtensions.Tests.Contract;

/// <summary>
/// Model zips written by the persistence-v1 code (written by LegacyFixtureGenerator.cs at commit 8b0565f, the last v1 writer; removed since) still load
/// and score exactly as they did then.
/// </summary>
public class LegacyModelTests
{
    private static string Dir => Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "Contract", "Legacy");

    private sealed class Row { public float[] X { get; set; } = Array.Empty<float>(); }

    [Theory]
    [InlineData("image-classifier-v1", "Pixels", new[] { 1, 28, 28 })]
    [InlineData("ssa-segmenter-v1", "Image", new[] { 3, 32, 32 })]
    [InlineData("squeezetime-v1", "Video", new[] { 8, 3, 32, 32 })]
    public void V1ZipLoadsAndScoresAsWhenSaved(string name, string column, int[] dims)
    {
        var ml = new MLContext(seed: 1);
        ml.RegisterMLNetExtensions();
        var inputArr = Npy.Read(Path.Combine(Dir, name + "-input.npy"));
        var input = (Shape: inputArr.Shape, Data: inputArr.ToFloat());
        var expected = (Data: Npy.Read(Path.Combine(Dir, name + "-score.npy")).ToFloat(), Dummy: 0);
        int rows = (int)input.Shape[0], size = (int)input.Shape[1];
        var def = SchemaDefinition.Create(typeof(Row));
        def["X"].ColumnName = column;
        def[column].ColumnType = new VectorDataViewType(NumberDataViewType.Single, dims);
        var data = ml.Data.LoadFromEnumerable(
            Enumerable.Range(0, rows).Select(r => new Row { X = input.Data.AsSpan(r * size, size).ToArray() }), def);
        var model = ml.Model.Load(Path.Combine(Dir, name + ".zip"), out _);
        var scores = model.Transform(data).GetColumn<VBuffer<float>>("Score").SelectMany(v => v.DenseValues()).ToArray();
        Assert.Equal(expected.Data.Length, scores.Length);
        double max = 0;
        for (int i = 0; i < scores.Length; i++) max = Math.Max(max, Math.Abs(scores[i] - expected.Data[i]));
        Assert.True(max <= 1e-5, $"{name}: max |Δscore| {max:E2}");
        (model as IDisposable)?.Dispose();
    }
}

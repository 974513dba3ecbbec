using System.IO.Compression;
using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Data;
using Xunit;
using MLNetExtensions.Transforms.Datasets;

namespace MLNetExtensions.Tests.Core;

public class FashionMnistTests
{
    [Fact]
    public void ReadsImagesLabelsAndClassNames()
    {
        var ml = new MLContext(1);
        var data = FashionMnist.Load(ml, FashionMnistSplit.Test, 100);
        Assert.Equal(100, data.GetRowCount());
        var px = data.GetColumn<VBuffer<float>>("Pixels").First().DenseValues().ToArray();
        Assert.Equal(784, px.Length);
        Assert.InRange(px.Max(), 0.5f, 1f);
        var labels = data.GetColumn<uint>("Label").ToArray();
        Assert.All(labels, l => Assert.InRange(l, 1u, 10u));
        Assert.True(labels.Distinct().Count() >= 8);
        VBuffer<ReadOnlyMemory<char>> names = default;
        data.Schema["Label"].GetKeyValues(ref names);
        Assert.Equal(FashionMnist.ClassNames, names.DenseValues().Select(n => n.ToString()));
        // The MLImage column decodes the same pixels.
        using var cursor = data.GetRowCursor(data.Schema);
        var get = cursor.GetGetter<MLImage>(data.Schema["Image"]);
        Assert.True(cursor.MoveNext());
        MLImage img = null!;
        get(ref img);
        Assert.Equal(28, img.Width);
        Assert.Equal((byte)Math.Round(px[14 * 28 + 14] * 255), img.Pixels[4 * (14 * 28 + 14)]);
    }

    [Fact]
    public void ReadsAFolderAndReportsCorruptFilesByName()
    {
        var dir = Directory.CreateTempSubdirectory("fmnist").FullName;
        foreach (var f in new[] { "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz" })
        {
            using var src = typeof(FashionMnist).Assembly.GetManifestResourceStream("MLNetExtensions.Data." + f)!;
            using var dst = File.Create(Path.Combine(dir, f));
            src.CopyTo(dst);
        }
        var ml = new MLContext(1);
        Assert.Equal(3000, FashionMnist.Load(ml, FashionMnistSplit.Train, directory: dir).GetRowCount());
        File.WriteAllBytes(Path.Combine(dir, "t10k-labels-idx1-ubyte.gz"), new byte[] { 1, 2, 3 });
        var e = Assert.Throws<InvalidDataException>(() => FashionMnist.Load(ml, FashionMnistSplit.Test, directory: dir));
        Assert.Contains("t10k-labels-idx1-ubyte.gz", e.Message);
        Assert.Throws<DirectoryNotFoundException>(() => FashionMnist.Load(ml, FashionMnistSplit.Test, directory: "/nonexistent"));
    }

    [Fact]
    public void ShufflingCursorVisitsEveryRowOnce()
    {
        var ml = new MLContext(1);
        var data = FashionMnist.Load(ml, FashionMnistSplit.Test, 50);
        var ids = new List<ulong>();
        using (var c = data.GetRowCursor(data.Schema, new Random(3)))
        {
            var id = c.GetIdGetter();
            DataViewRowId v = default;
            while (c.MoveNext()) { id(ref v); ids.Add(v.Low); }
        }
        Assert.Equal(Enumerable.Range(0, 50).Select(i => (ulong)i), ids.OrderBy(i => i));
        Assert.NotEqual(Enumerable.Range(0, 50).Select(i => (ulong)i), ids);
    }
}

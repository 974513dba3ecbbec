using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Transforms.Datasets.Scenes;
using Xunit;
using MLNetExtensions.Transforms.Datasets;

namespace MLNetExtensions.Tests.Segmentation;

public class FashionScenesTests
{
    private static readonly MLContext Ml = new(seed: 1);

    /// <summary>The first <paramref name="rows"/> Fashion-MNIST train images as 784-value arrays.</summary>
    private static List<float[]> SourcePixels(int rows)
    {
        var src = FashionMnist.Load(Ml, FashionMnistSplit.Train, rows);
        var pixels = new List<float[]>();
        using var cur = src.GetRowCursor(src.Schema);
        var get = cur.GetGetter<VBuffer<float>>(src.Schema["Pixels"]);
        VBuffer<float> buf = default;
        while (cur.MoveNext()) { get(ref buf); pixels.Add(buf.DenseValues().ToArray()); }
        return pixels;
    }

    private static FashionScenes Make(FashionSceneOptions o) => FashionScenes.Create(Ml, o with { SourceRows = o.SourceRows ?? 500 });

    [Fact]
    public void SameSeedSameScenes_OtherSeedOtherScenes()
    {
        var a = Make(new FashionSceneOptions { Count = 20, Seed = 3 });
        var b = Make(new FashionSceneOptions { Count = 20, Seed = 3 });
        var c = Make(new FashionSceneOptions { Count = 20, Seed = 4 });
        for (int i = 0; i < 5; i++)
        {
            var (x, y) = (a.Generate(i), b.Generate(i));
            Assert.Equal(x.Image, y.Image);
            Assert.Equal(x.Classes, y.Classes);
            Assert.Equal(x.Depth, y.Depth);
        }
        Assert.NotEqual(a.Generate(0).Image, c.Generate(0).Image);
        Assert.NotEqual(a.Generate(0).Image, a.Generate(1).Image);
        // Rendering order does not matter: row 7 alone equals row 7 after others.
        Assert.Equal(a.Generate(7).Classes, Make(new FashionSceneOptions { Count = 20, Seed = 3 }).Generate(7).Classes);
    }

    [Fact]
    public void SingleUnscaledItemMaskIsTheThresholdedSourceImage()
    {
        var o = new FashionSceneOptions { Count = 10, Seed = 5, MinItems = 1, MaxItems = 1, MinItemSize = 28, MaxItemSize = 28, FlipProbability = 0, Noise = 0, MaxOutside = 0 };
        var g = Make(o);
        var pixels = SourcePixels(500);
        for (int s = 0; s < 5; s++)
        {
            var scene = g.Generate(s);
            var it = Assert.Single(scene.Items);
            var px = pixels[it.SourceIndex];
            int covered = 0;
            for (int y = 0; y < 64; y++)
                for (int x = 0; x < 64; x++)
                {
                    int v = y - it.Top, u = x - it.Left;
                    bool inside = v >= 0 && u >= 0 && v < 28 && u < 28;
                    bool fg = inside && px[v * 28 + u] > o.Threshold;
                    Assert.Equal(fg ? it.FashionLabel + 1 : 0, scene.Classes[y * 64 + x]);
                    if (fg) { covered++; Assert.True(scene.Depth[y * 64 + x] < it.Depth + 1e-6f); }
                    else Assert.True(scene.Depth[y * 64 + x] > 0.8f);
                }
            Assert.True(covered > 50, $"item {it.SourceIndex} covers only {covered} pixels");
        }
    }

    [Fact]
    public void NearestCoveringItemGivesClassAndDepth()
    {
        var g = Make(new FashionSceneOptions { Count = 10, Seed = 9, MinItems = 3, MaxItems = 5 });
        int occluded = 0;
        for (int s = 0; s < 4; s++)
        {
            var scene = g.Generate(s);
            for (int p = 0; p < 64 * 64; p++)
            {
                int y = p / 64, x = p % 64;
                var covering = scene.Items.Where(it => g.Intensity(it, y, x) > g.Options.Threshold).OrderBy(it => it.Depth).ToList();
                if (covering.Count > 1) occluded++;
                if (covering.Count == 0) { Assert.Equal(0, scene.Classes[p]); continue; }
                var near = covering[0];
                Assert.Equal(near.FashionLabel + 1, scene.Classes[p]);
                Assert.Equal(near.Depth - 0.05f * g.Intensity(near, y, x), scene.Depth[p], 6);
            }
        }
        Assert.True(occluded > 0, "no overlapping items in 4 scenes with 3–5 items");
    }

    [Fact]
    public void DataViewHasDocumentedColumnsAndMatchesGenerate()
    {
        var g = Make(new FashionSceneOptions { Count = 6, Seed = 2, Height = 32, Width = 64 });
        var view = g.AsDataView();
        Assert.Equal(6, view.GetRowCount());
        var img = (VectorDataViewType)view.Schema["Image"].Type;
        Assert.Equal(new[] { 3, 32, 64 }, img.Dimensions.ToArray());
        var mask = (VectorDataViewType)view.Schema["Mask"].Type;
        Assert.Equal(32 * 64, mask.Size);
        Assert.Equal(11ul, ((KeyDataViewType)mask.ItemType).Count);
        VBuffer<ReadOnlyMemory<char>> names = default;
        view.Schema["Mask"].GetKeyValues(ref names);
        Assert.Equal(FashionScenes.ClassNames, names.DenseValues().Select(n => n.ToString()).ToArray());
        Assert.Equal("background", FashionScenes.ClassNames[FashionScenes.Background]);
        Assert.Equal(new[] { 1, 32, 64 }, ((VectorDataViewType)view.Schema["Depth"].Type).Dimensions.ToArray());

        // A shuffled cursor still returns each row's own scene (via the row id).
        using var cur = view.GetRowCursor(view.Schema, new Random(1));
        var getMask = cur.GetGetter<VBuffer<uint>>(view.Schema["Mask"]);
        var getImg = cur.GetGetter<VBuffer<float>>(view.Schema["Image"]);
        var getId = cur.GetIdGetter();
        VBuffer<uint> m = default; VBuffer<float> im = default; DataViewRowId id = default;
        int rows = 0;
        while (cur.MoveNext())
        {
            getMask(ref m); getImg(ref im); getId(ref id);
            var scene = g.Generate((long)id.Low);
            Assert.Equal(scene.Classes.Select(c => c + 1u), m.DenseValues());
            Assert.Equal(scene.Image, im.DenseValues());
            Assert.All(im.DenseValues(), v => Assert.InRange(v, 0f, 1f));
            rows++;
        }
        Assert.Equal(6, rows);
    }

    [Fact]
    public void SkipSourceRowsTakesItemsOnlyFromTheRowsAfterTheSkip()
    {
        // Same options except the skip: the unskipped generator holds rows 0..59, the skipped one rows 40..59, so every
        // item the skipped generator places must be one of those 20 source images (compared by pixels).
        var o = new FashionSceneOptions { Count = 30, Seed = 9, MinItems = 1, MaxItems = 1, MinItemSize = 28, MaxItemSize = 28, FlipProbability = 0, Noise = 0, MaxOutside = 0 };
        var skipped = FashionScenes.Create(Ml, o with { SourceRows = 20, SkipSourceRows = 40 });
        var pixels = SourcePixels(60);
        for (int s = 0; s < 30; s++)
        {
            var it = Assert.Single(skipped.Generate(s).Items);
            Assert.InRange(it.SourceIndex, 0, 19);
            var mask = Enumerable.Range(0, 28 * 28).Select(p => skipped.Intensity(it, it.Top + p / 28, it.Left + p % 28)).ToArray();
            for (int p = 0; p < mask.Length; p++) Assert.Equal(pixels[40 + it.SourceIndex][p], mask[p], 5);
        }
        Assert.Contains("SkipSourceRows", Assert.Throws<ArgumentOutOfRangeException>(() => (o with { SkipSourceRows = -1 }).Validate()).Message);
        Assert.Contains("SkipSourceRows", Assert.Throws<ArgumentException>(() => FashionScenes.Create(Ml, o with { SourceRows = 5, SkipSourceRows = 1_000_000 })).Message);
    }

    [Fact]
    public void BadOptionsNameTheSetting()
    {
        Assert.Contains("MaxItems", Assert.Throws<ArgumentOutOfRangeException>(() => new FashionSceneOptions { MinItems = 3, MaxItems = 2 }.Validate()).Message);
        Assert.Contains("Threshold", Assert.Throws<ArgumentOutOfRangeException>(() => new FashionSceneOptions { Threshold = 1f }.Validate()).Message);
        Assert.Contains("MinItemSize", Assert.Throws<ArgumentOutOfRangeException>(() => new FashionSceneOptions { MinItemSize = 2 }.Validate()).Message);
        Assert.Throws<ArgumentException>(() => new FashionScenes(new FashionSceneOptions(), new float[10], new byte[1]));
    }
}

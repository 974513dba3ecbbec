using MLNetExtensions.Core.Plotting;
using SkiaSharp;
using Xunit;

namespace MLNetExtensions.Tests.Core;

/// <summary>PngChart on ScottPlot 5 keeps its API and draws; the image grid's colour key is where and what it says.</summary>
public sealed class PngChartTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("mlx-png");
    public void Dispose() => _dir.Delete(recursive: true);

    private static bool Near(SKColor c, byte r, byte g, byte b, int tol = 12) =>
        Math.Abs(c.Red - r) <= tol && Math.Abs(c.Green - g) <= tol && Math.Abs(c.Blue - b) <= tol;

    [Fact]
    public void ChartWithLinesErrorBarsAndLogAxisRendersAtTheAskedSizeInTheSeriesColours()
    {
        var path = Path.Combine(_dir.FullName, "chart.png");
        new PngChart { Title = "accuracy vs rate (mean ± s.d.)", XLabel = "rate (log)", YLabel = "accuracy", LogX = true }
            .AddErrorBars("width=1", new[] { 1e-4, 1e-3, 1e-2 }, new[] { 0.52, 0.71, 0.64 }, new[] { 0.02, 0.01, 0.05 })
            .AddLine("width=2", new[] { 1e-4, 1e-3, 1e-2 }, new[] { 0.55, 0.74, 0.69 })
            .Save(path, 640, 400);
        using var bmp = SKBitmap.Decode(path);
        Assert.Equal(640, bmp.Width);
        Assert.Equal(400, bmp.Height);
        int blue = 0, orange = 0;
        for (int y = 0; y < bmp.Height; y++)
            for (int x = 0; x < bmp.Width; x++)
            {
                var c = bmp.GetPixel(x, y);
                if (Near(c, 0x1f, 0x77, 0xb4)) blue++;   // Category10 colour 0
                if (Near(c, 0xff, 0x7f, 0x0e)) orange++; // colour 1
            }
        Assert.True(blue > 100 && orange > 100, $"series pixels: {blue} blue, {orange} orange");
        Assert.Throws<ArgumentException>(() => new PngChart().AddLine("bad", new[] { 1.0, 2.0 }, new[] { 1.0 }));
    }

    [Fact]
    public void ImageGridColourKeySitsAboveTheImagesWithTheGivenColours()
    {
        var path = Path.Combine(_dir.FullName, "grid.png");
        var grey = Enumerable.Repeat(0.5f, 8 * 8).ToArray();
        PngChart.SaveImageGrid(path, new[] { (grey, 1, 8, 8, "scene") }, columns: 1,
            legend: new[] { ("background", 0f, 0f, 0f), ("cat", 1f, 0f, 0f), ("dog", 0f, 1f, 0f) }, scale: 3);
        using var bmp = SKBitmap.Decode(path);
        Assert.True(bmp.Width >= 200); // the key needs room; it wraps at this width
        Assert.True(Near(bmp.GetPixel(12, 10), 0, 0, 0));   // first swatch at (6, 4)
        var cat = Enumerable.Range(0, bmp.Width).Select(x => bmp.GetPixel(x, 10)).Count(c => Near(c, 255, 0, 0));
        var dog = Enumerable.Range(0, bmp.Width).Select(x => bmp.GetPixel(x, 10)).Count(c => Near(c, 0, 255, 0));
        Assert.InRange(cat, 6, 12);  // one 12-px swatch each, less its grey edge
        Assert.InRange(dog, 6, 12);
        Assert.True(Near(bmp.GetPixel(10, 22 + 5 + 4), 128, 128, 128, 2)); // the image starts under the key (22 px)
        var plain = Path.Combine(_dir.FullName, "plain.png");
        PngChart.SaveImageGrid(plain, new[] { (grey, 1, 8, 8, "scene") }, 1); // the old overload still works
        using var p = SKBitmap.Decode(plain);
        Assert.True(Near(p.GetPixel(10, 9), 128, 128, 128, 2));
    }
}

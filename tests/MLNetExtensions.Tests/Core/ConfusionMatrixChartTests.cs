using MLNetExtensions.Core.Plotting;
using SkiaSharp;
using Xunit;

namespace MLNetExtensions.Tests.Core;

/// <summary>The confusion-matrix PNG decodes at the asked size, its cells are coloured by row share, bad input is named.</summary>
public sealed class ConfusionMatrixChartTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("mlx-cm");
    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public void KnownMatrixWritesADecodablePngOfTheAskedSizeWithBrightDiagonalCells()
    {
        var path = Path.Combine(_dir.FullName, "cm.png");
        var counts = new double[][] { new double[] { 50, 0, 0 }, new double[] { 0, 40, 10 }, new double[] { 0, 0, 7 } };
        ConfusionMatrixChart.Save(path, counts, new[] { "cat", "dog", "bird" }, "known matrix", 600, 520);
        using var bmp = SKBitmap.Decode(path);
        Assert.NotNull(bmp);
        Assert.Equal(600, bmp.Width);
        Assert.Equal(520, bmp.Height);
        // Viridis: share 1 is yellow (R and G high, B low), share 0 dark purple (R, G low). Full-share cells exist, and
        // there are more dark pixels (6 empty cells) than bright ones (2 full cells + the 0.8 cell + the colour bar's top).
        int yellow = 0, purple = 0;
        for (int y = 0; y < bmp.Height; y++)
            for (int x = 0; x < bmp.Width; x++)
            {
                var c = bmp.GetPixel(x, y);
                if (c.Red > 200 && c.Green > 200 && c.Blue < 80) yellow++;
                if (c.Red is > 50 and < 90 && c.Green < 20 && c.Blue is > 70 and < 100) purple++;
            }
        Assert.True(yellow > 1000, $"yellow (share 1) pixels: {yellow}");
        Assert.True(purple > yellow, $"purple (share 0) pixels {purple} vs yellow {yellow}");
    }

    [Fact]
    public void NonSquareCountsOrMismatchedNamesAreRejectedNamingTheArgument()
    {
        var path = Path.Combine(_dir.FullName, "bad.png");
        var e = Assert.Throws<ArgumentException>(() => ConfusionMatrixChart.Save(path, new double[][] { new double[] { 1, 2 } }, new[] { "a", "b" }));
        Assert.Equal("counts", e.ParamName);
        Assert.Throws<ArgumentException>(() => ConfusionMatrixChart.Save(path, new double[][] { new double[] { 1, double.NaN }, new double[] { 0, 1 } }, new[] { "a", "b" }));
        Assert.False(File.Exists(path));
    }
}

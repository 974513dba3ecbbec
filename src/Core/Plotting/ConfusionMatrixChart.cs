using Microsoft.ML.Data;
using ScottPlot;

namespace MLNetExtensions.Core.Plotting;

/// <summary>
/// A confusion matrix as a PNG heatmap (ScottPlot 5): rows are the true classes, columns the predicted ones, each
/// cell annotated with its count and coloured by the share of its row (the per-class recall on the diagonal), so
/// classes of different sizes read alike.
/// </summary>
public static class ConfusionMatrixChart
{
    /// <summary>Writes the matrix of an ML.NET multiclass evaluation (<c>metrics.ConfusionMatrix</c>).</summary>
    public static void Save(string path, ConfusionMatrix matrix, IReadOnlyList<string> classNames, string title = "",
        int width = 720, int height = 640)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        Save(path, matrix.Counts, classNames, title, width, height);
    }

    /// <summary>
    /// Writes <paramref name="counts"/> (<c>counts[true][predicted]</c>, square, one row per entry of
    /// <paramref name="classNames"/>) as a PNG of <paramref name="width"/>×<paramref name="height"/> pixels.
    /// </summary>
    public static void Save(string path, IReadOnlyList<IReadOnlyList<double>> counts, IReadOnlyList<string> classNames, string title = "",
        int width = 720, int height = 640)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(counts);
        ArgumentNullException.ThrowIfNull(classNames);
        int n = classNames.Count;
        if (n == 0) throw new ArgumentException("classNames is empty; expected one name per class.", nameof(classNames));
        if (counts.Count != n || counts.Any(r => r.Count != n))
            throw new ArgumentException($"counts must be {n}×{n} (one row and column per class name); got {counts.Count} rows of {string.Join("/", counts.Select(r => r.Count).Distinct())}.", nameof(counts));
        if (counts.Any(r => r.Any(c => !(c >= 0) || double.IsInfinity(c))))
            throw new ArgumentException("counts must be finite and non-negative.", nameof(counts));
        if (width < 100 || height < 100) throw new ArgumentOutOfRangeException(nameof(width), $"The chart needs at least 100×100 pixels; got {width}×{height}.");

        var share = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            double total = counts[i].Sum();
            for (int j = 0; j < n; j++) share[i, j] = total > 0 ? counts[i][j] / total : 0;
        }
        var plt = new Plot();
        plt.Font.Automatic();
        var heat = plt.Add.Heatmap(share);
        heat.Colormap = new ScottPlot.Colormaps.Viridis();
        heat.ManualRange = new ScottPlot.Range(0, 1);
        heat.Rectangle = new CoordinateRect(0, n, 0, n); // row 0 (the first class) on top
        var bar = plt.Add.ColorBar(heat);
        bar.Axis.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(0.25); // the automatic one crowds 0.05 steps

        float fontSize = Math.Clamp(220f / n, 8f, 16f);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                var text = plt.Add.Text(counts[i][j].ToString("0.##", System.Globalization.CultureInfo.InvariantCulture), j + 0.5, n - i - 0.5);
                text.LabelAlignment = Alignment.MiddleCenter;
                text.LabelFontSize = fontSize;
                text.LabelFontColor = share[i, j] > 0.6 ? Colors.Black : Colors.White; // Viridis: dark low, yellow high
            }

        var centres = Enumerable.Range(0, n).Select(k => k + 0.5).ToArray();
        plt.Axes.Bottom.SetTicks(centres, classNames.ToArray());
        plt.Axes.Left.SetTicks(centres, classNames.Reverse().ToArray());
        plt.Axes.Bottom.TickLabelStyle.Rotation = -45;
        plt.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleRight;
        plt.Axes.Bottom.MinimumSize = 20 + 7 * classNames.Max(c => c.Length); // room for the rotated names
        plt.Axes.SetLimits(0, n, 0, n);
        plt.HideGrid();
        plt.Title(title.Length > 0 ? title + "\n(colour: share of the row's true class)" : "colour: share of the row's true class");
        plt.XLabel("predicted class");
        plt.YLabel("true class");
        IO.AtomicFile.WriteAllBytes(path, plt.GetImageBytes(width, height, ImageFormat.Png));
    }
}

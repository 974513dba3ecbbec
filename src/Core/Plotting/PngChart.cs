using ScottPlot;
using SkiaSharp;

namespace MLNetExtensions.Core.Plotting;

/// <summary>
/// Small PNG charts (lines, scatter, error bars) drawn with ScottPlot 5, and image grids drawn with SkiaSharp 3 (the
/// SkiaSharp that ML.NET ImageAnalytics 6 and ScottPlot share). Ticks come from ScottPlot's automatic generator
/// (round values, no overlapping labels); an x-axis whose values are all whole numbers (epochs, steps, sizes) gets
/// whole-number ticks only; the legend sits outside the data area, to the right, and is never cut off; log axes show
/// the values, not their logarithms.
/// </summary>
public sealed class PngChart
{
    private readonly List<(string Label, double[] X, double[] Y, bool Line, double[]? Err)> _series = new();

    public string Title { get; set; } = "";
    public string XLabel { get; set; } = "";
    public string YLabel { get; set; } = "";
    /// <summary>Logarithmic axes (values must be positive).</summary>
    public bool LogX { get; set; }
    public bool LogY { get; set; }

    public PngChart AddLine(string label, IEnumerable<double> x, IEnumerable<double> y) => Add(label, x.ToArray(), y.ToArray(), true, null);
    public PngChart AddScatter(string label, IEnumerable<double> x, IEnumerable<double> y) => Add(label, x.ToArray(), y.ToArray(), false, null);

    /// <summary>Points with vertical error bars y ± <paramref name="yError"/> (e.g. mean ± s.d.), joined by a line or not.</summary>
    public PngChart AddErrorBars(string label, IEnumerable<double> x, IEnumerable<double> y, IEnumerable<double> yError, bool line = true)
    {
        var (xs, ys, es) = (x.ToArray(), y.ToArray(), yError.ToArray());
        if (xs.Length != ys.Length || es.Length != ys.Length)
            throw new ArgumentException($"Series '{label}': x, y and yError need the same length ({xs.Length}, {ys.Length}, {es.Length}).", nameof(yError));
        return Add(label, xs, ys, line, es);
    }

    private PngChart Add(string label, double[] x, double[] y, bool line, double[]? err)
    {
        if (x.Length != y.Length) throw new ArgumentException($"Series '{label}': x and y need the same length ({x.Length}, {y.Length}).", nameof(y));
        _series.Add((label, x, y, line, err));
        return this;
    }

    internal static SKTypeface Font()
    {
        foreach (var f in new[] { "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/System/Library/Fonts/Helvetica.ttc", @"C:\Windows\Fonts\arial.ttf" })
            if (File.Exists(f)) return SKTypeface.FromFile(f) ?? SKTypeface.Default;
        return SKTypeface.Default;
    }

    /// <summary>Renders the chart to a PNG file (written atomically).</summary>
    public void Save(string path, int width = 800, int height = 500)
    {
        ArgumentNullException.ThrowIfNull(path);
        var plt = new Plot();
        plt.Font.Automatic(); // a system font that has the characters used (×, ±, α …)
        var palette = new ScottPlot.Palettes.Category10();
        double Tx(double v) => LogX ? Math.Log10(v) : v;
        double Ty(double v) => LogY ? Math.Log10(v) : v;
        for (int s = 0; s < _series.Count; s++)
        {
            var (label, x, y, line, err) = _series[s];
            // Points a log axis cannot show (≤ 0) and non-finite values are left out.
            var keep = Enumerable.Range(0, x.Length).Where(i => double.IsFinite(Tx(x[i])) && double.IsFinite(Ty(y[i]))).ToArray();
            var xs = keep.Select(i => Tx(x[i])).ToArray();
            var ys = keep.Select(i => Ty(y[i])).ToArray();
            var colour = palette.GetColor(s);
            if (err != null)
            {
                var up = keep.Select(i => double.IsFinite(err[i]) && err[i] > 0 ? Ty(y[i] + err[i]) - Ty(y[i]) : 0).ToArray();
                var down = keep.Select(i => !double.IsFinite(err[i]) || !(err[i] > 0) ? 0 : LogY && y[i] - err[i] <= 0 ? 0 : Ty(y[i]) - Ty(y[i] - err[i])).ToArray();
                var bars = plt.Add.ErrorBar(xs, ys, up);
                bars.YErrorNegative = down; // asymmetric on a log axis
                bars.Color = colour;
                bars.LineWidth = 1.5f;
            }
            var sc = plt.Add.Scatter(xs, ys);
            sc.Color = colour;
            sc.LegendText = label;
            sc.LineWidth = line ? 2 : 0;
            sc.MarkerSize = line ? (xs.Length <= 30 ? 5 : 0) : 7;
        }
        plt.Title(Title);
        plt.XLabel(XLabel);
        plt.YLabel(YLabel);
        var allX = _series.SelectMany(s => s.X).Where(double.IsFinite).ToArray();
        bool wholeX = !LogX && allX.Length > 0 && allX.All(v => v == Math.Round(v));
        plt.Axes.Bottom.TickGenerator = Ticks(LogX, wholeX);
        plt.Axes.Left.TickGenerator = Ticks(LogY, false);
        if (wholeX && allX.Max() - allX.Min() < 1) plt.Axes.SetLimitsX(allX.Min() - 1, allX.Max() + 1); // one-point runs
        if (_series.Any(s => s.Label.Length > 0)) plt.ShowLegend(Edge.Right);
        var png = plt.GetImageBytes(width, height, ImageFormat.Png);
        IO.AtomicFile.WriteAllBytes(path, png);
    }

    private static ScottPlot.ITickGenerator Ticks(bool log, bool wholeNumbers) => log
        ? new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true, // decades
            LabelFormatter = v => Fmt(Math.Pow(10, v)),
        }
        : new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = wholeNumbers };

    private static string Fmt(double v) => Math.Abs(v) >= 1e4 || (Math.Abs(v) < 1e-3 && v != 0) ? v.ToString("0.#E0", System.Globalization.CultureInfo.InvariantCulture) : v.ToString("0.####", System.Globalization.CultureInfo.InvariantCulture);

    internal static void Write(SKSurface surface, string path)
    {
        using var img = surface.Snapshot();
        using var data = img.Encode(SKEncodedImageFormat.Png, 100);
        IO.AtomicFile.Write(path, s => data.SaveTo(s));
    }

    /// <summary>
    /// Writes a grid of images (each H×W RGB floats in [0,1], planar CHW, or 1 channel) with a caption under each.
    /// Used for sample predictions, masks and video frames.
    /// </summary>
    public static void SaveImageGrid(string path, IReadOnlyList<(float[] Chw, int Channels, int Height, int Width, string Caption)> images,
        int columns, int scale = 3, string title = "") => SaveImageGrid(path, images, columns, legend: null, scale, title);

    /// <summary>
    /// As <see cref="SaveImageGrid(string, IReadOnlyList{ValueTuple{float[], int, int, int, string}}, int, int, string)"/>,
    /// with a colour key under the title: one swatch and name per entry (e.g. the classes of a segmentation overlay,
    /// colours in [0,1] as <see cref="ClassPalette.Colours"/> gives them), wrapped to the grid's width.
    /// </summary>
    public static void SaveImageGrid(string path, IReadOnlyList<(float[] Chw, int Channels, int Height, int Width, string Caption)> images,
        int columns, IReadOnlyList<(string Name, float R, float G, float B)>? legend, int scale = 3, string title = "")
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0) throw new ArgumentException("No images to draw.", nameof(images));
        if (columns < 1) throw new ArgumentOutOfRangeException(nameof(columns), columns, "columns must be at least 1.");
        int cellW = images.Max(i => i.Width) * scale + 10, cellH = images.Max(i => i.Height) * scale + 30;
        int rows = (images.Count + columns - 1) / columns;
        int gridW = Math.Max(1, Math.Min(columns, images.Count) * cellW);
        using var font = Font();
        using var skFont = new SKFont(font, 11);
        using var titleFont = new SKFont(font, 15) { Embolden = true };
        using var ink = new SKPaint { IsAntialias = true, Color = SKColors.Black };
        // Lay the key out first: entries flow left to right and wrap at the grid's width.
        var keyAt = new List<(float X, float Y)>();
        float kx = 6, ky = 0, keyH = 0;
        if (legend is { Count: > 0 })
        {
            foreach (var e in legend)
            {
                float w = 16 + skFont.MeasureText(e.Name) + 14;
                if (kx + w > Math.Max(gridW, 200) && kx > 6) { kx = 6; ky += 18; }
                keyAt.Add((kx, ky));
                kx += w;
            }
            keyH = ky + 22;
        }
        int titleH = string.IsNullOrEmpty(title) ? 0 : 28;
        int top = titleH + (int)Math.Ceiling(keyH);
        int widthPx = legend is { Count: > 0 } ? Math.Max(gridW, 200) : gridW; // the key wraps at this width
        using var surface = SKSurface.Create(new SKImageInfo(widthPx, Math.Max(1, rows * cellH + top)));
        var c = surface.Canvas;
        c.Clear(SKColors.White);
        if (titleH > 0) c.DrawText(title, 6, 19, titleFont, ink);
        if (legend is { Count: > 0 })
            for (int i = 0; i < legend.Count; i++)
            {
                var (name, r, g, bl) = legend[i];
                byte Q(float v) => (byte)Math.Clamp((int)(v * 255 + 0.5f), 0, 255);
                using var swatch = new SKPaint { Color = new SKColor(Q(r), Q(g), Q(bl)), Style = SKPaintStyle.Fill };
                using var edge = new SKPaint { Color = SKColors.Gray, Style = SKPaintStyle.Stroke, StrokeWidth = 1 };
                float x = keyAt[i].X, y = titleH + keyAt[i].Y + 4;
                c.DrawRect(x, y, 12, 12, swatch);
                c.DrawRect(x, y, 12, 12, edge);
                c.DrawText(name, x + 16, y + 11, skFont, ink);
            }
        for (int k = 0; k < images.Count; k++)
        {
            var (chw, ch, h, w, caption) = images[k];
            using var bmp = new SKBitmap(w, h);
            int plane = h * w;
            for (int yy = 0; yy < h; yy++)
                for (int xx = 0; xx < w; xx++)
                {
                    int i = yy * w + xx;
                    byte B(float v) => (byte)Math.Clamp((int)(v * 255 + 0.5f), 0, 255);
                    var r = B(chw[i]); var g = ch == 3 ? B(chw[plane + i]) : r; var b = ch == 3 ? B(chw[2 * plane + i]) : r;
                    bmp.SetPixel(xx, yy, new SKColor(r, g, b));
                }
            float cx = (k % columns) * cellW + 5, cy = (k / columns) * cellH + 5 + top;
            c.DrawBitmap(bmp, new SKRect(cx, cy, cx + w * scale, cy + h * scale));
            c.DrawText(caption, cx, cy + h * scale + 16, skFont, ink);
        }
        Write(surface, path);
    }
}

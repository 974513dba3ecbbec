using SkiaSharp;

namespace MLNetExtensions.Core.Plotting;

/// <summary>
/// Small PNG charts (lines, scatter) and image grids drawn with SkiaSharp 2.88 — the Skia that ML.NET's
/// ImageAnalytics loads. ScottPlot 5.1 (the only ScottPlot the package feed serves) needs SkiaSharp 3, whose
/// removal of <c>SKBitmap.GetPixelSpan</c> breaks <c>MLImage.Pixels</c> in the same process, so examples that
/// use images plot with this instead.
/// </summary>
public sealed class PngChart
{
    private readonly List<(string Label, double[] X, double[] Y, bool Line, double[]? Err)> _series = new();
    private static readonly SKColor[] Palette =
    {
        new(31, 119, 180), new(255, 127, 14), new(44, 160, 44), new(214, 39, 40), new(148, 103, 189),
        new(140, 86, 75), new(227, 119, 194), new(127, 127, 127), new(188, 189, 34), new(23, 190, 207),
    };

    public string Title { get; set; } = "";
    public string XLabel { get; set; } = "";
    public string YLabel { get; set; } = "";
    /// <summary>Logarithmic axes (values must be positive).</summary>
    public bool LogX { get; set; }
    public bool LogY { get; set; }

    public PngChart AddLine(string label, IEnumerable<double> x, IEnumerable<double> y) { _series.Add((label, x.ToArray(), y.ToArray(), true, null)); return this; }
    public PngChart AddScatter(string label, IEnumerable<double> x, IEnumerable<double> y) { _series.Add((label, x.ToArray(), y.ToArray(), false, null)); return this; }

    /// <summary>Points with vertical error bars y ± <paramref name="yError"/> (e.g. mean ± s.d.), joined by a line or not.</summary>
    public PngChart AddErrorBars(string label, IEnumerable<double> x, IEnumerable<double> y, IEnumerable<double> yError, bool line = true)
    {
        var (xs, ys, es) = (x.ToArray(), y.ToArray(), yError.ToArray());
        if (xs.Length != ys.Length || es.Length != ys.Length)
            throw new ArgumentException($"Series '{label}': x, y and yError need the same length ({xs.Length}, {ys.Length}, {es.Length}).", nameof(yError));
        _series.Add((label, xs, ys, line, es));
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
        using var surface = SKSurface.Create(new SKImageInfo(width, height));
        var c = surface.Canvas;
        c.Clear(SKColors.White);
        using var font = Font();
        using var text = new SKPaint { Typeface = font, TextSize = 13, IsAntialias = true, Color = SKColors.Black };
        using var title = new SKPaint { Typeface = font, TextSize = 16, IsAntialias = true, Color = SKColors.Black, FakeBoldText = true };
        using var axis = new SKPaint { Color = SKColors.Black, StrokeWidth = 1, IsAntialias = true, Style = SKPaintStyle.Stroke };
        using var grid = new SKPaint { Color = new SKColor(225, 225, 225), StrokeWidth = 1, Style = SKPaintStyle.Stroke };
        float left = 70, right = width - 20, top = 40, bottom = height - 55;

        var xs = _series.SelectMany(s => s.X).Select(v => LogX ? Math.Log10(v) : v).Where(double.IsFinite).ToArray();
        // The y-range covers the error bars too.
        var ys = _series.SelectMany(s => s.Err == null ? s.Y : s.Y.Concat(s.Y.Select((v, i) => v + s.Err[i])).Concat(s.Y.Select((v, i) => v - s.Err[i])))
            .Select(v => LogY ? Math.Log10(v) : v).Where(double.IsFinite).ToArray();
        double x0 = xs.Length > 0 ? xs.Min() : 0, x1 = xs.Length > 0 ? xs.Max() : 1, y0 = ys.Length > 0 ? ys.Min() : 0, y1 = ys.Length > 0 ? ys.Max() : 1;
        if (x1 - x0 < 1e-12) { x0 -= 0.5; x1 += 0.5; }
        if (y1 - y0 < 1e-12) { y0 -= 0.5; y1 += 0.5; }
        double padY = (y1 - y0) * 0.05; y0 -= padY; y1 += padY;
        float PX(double v) => (float)(left + ((LogX ? Math.Log10(v) : v) - x0) / (x1 - x0) * (right - left));
        float PY(double v) => (float)(bottom - ((LogY ? Math.Log10(v) : v) - y0) / (y1 - y0) * (bottom - top));

        for (int i = 0; i <= 5; i++)
        {
            double tx = x0 + (x1 - x0) * i / 5, ty = y0 + (y1 - y0) * i / 5;
            float gx = (float)(left + (right - left) * i / 5), gy = (float)(bottom - (bottom - top) * i / 5);
            c.DrawLine(gx, top, gx, bottom, grid);
            c.DrawLine(left, gy, right, gy, grid);
            var lx = Fmt(LogX ? Math.Pow(10, tx) : tx); var ly = Fmt(LogY ? Math.Pow(10, ty) : ty);
            c.DrawText(lx, gx - text.MeasureText(lx) / 2, bottom + 18, text);
            c.DrawText(ly, left - 8 - text.MeasureText(ly), gy + 4, text);
        }
        c.DrawRect(left, top, right - left, bottom - top, axis);
        c.DrawText(Title, (width - title.MeasureText(Title)) / 2, 24, title);
        c.DrawText(XLabel, (left + right - text.MeasureText(XLabel)) / 2, height - 15, text);
        c.Save();
        c.RotateDegrees(-90);
        c.DrawText(YLabel, -(top + bottom + text.MeasureText(YLabel)) / 2, 18, text);
        c.Restore();

        for (int s = 0; s < _series.Count; s++)
        {
            var (label, x, y, line, err) = _series[s];
            using var p = new SKPaint { Color = Palette[s % Palette.Length], StrokeWidth = 2, IsAntialias = true, Style = line ? SKPaintStyle.Stroke : SKPaintStyle.Fill };
            if (line && x.Length > 1)
            {
                using var poly = new SKPath();
                poly.MoveTo(PX(x[0]), PY(y[0]));
                for (int i = 1; i < x.Length; i++) poly.LineTo(PX(x[i]), PY(y[i]));
                c.DrawPath(poly, p);
            }
            using var dot = new SKPaint { Color = p.Color, IsAntialias = true, Style = SKPaintStyle.Fill };
            if (err != null)
                for (int i = 0; i < x.Length; i++)
                {
                    if (!(err[i] > 0) || !double.IsFinite(err[i])) continue;
                    float ex = PX(x[i]), hi = PY(y[i] + err[i]), lo = LogY && y[i] - err[i] <= 0 ? bottom : PY(y[i] - err[i]);
                    c.DrawLine(ex, lo, ex, hi, p);
                    c.DrawLine(ex - 4, lo, ex + 4, lo, p);
                    c.DrawLine(ex - 4, hi, ex + 4, hi, p);
                }
            for (int i = 0; i < x.Length; i++) c.DrawCircle(PX(x[i]), PY(y[i]), line ? 3 : 4, dot);
            // legend
            float ly = top + 10 + 18 * s;
            c.DrawRect(right - 170, ly - 9, 12, 12, dot);
            c.DrawText(label, right - 152, ly + 2, text);
        }
        Write(surface, path);
    }

    private static string Fmt(double v) => Math.Abs(v) >= 1000 || (Math.Abs(v) < 0.01 && v != 0) ? v.ToString("0.##E0") : v.ToString("0.###");

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
        int columns, int scale = 3, string title = "")
    {
        int cellW = images.Max(i => i.Width) * scale + 10, cellH = images.Max(i => i.Height) * scale + 30;
        int rows = (images.Count + columns - 1) / columns;
        int top = string.IsNullOrEmpty(title) ? 0 : 28;
        using var surface = SKSurface.Create(new SKImageInfo(Math.Max(1, columns * cellW), Math.Max(1, rows * cellH + top)));
        var c = surface.Canvas;
        c.Clear(SKColors.White);
        using var font = Font();
        using var text = new SKPaint { Typeface = font, TextSize = 11, IsAntialias = true, Color = SKColors.Black };
        using var ttl = new SKPaint { Typeface = font, TextSize = 15, IsAntialias = true, Color = SKColors.Black, FakeBoldText = true };
        if (top > 0) c.DrawText(title, 6, 19, ttl);
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
            c.DrawText(caption, cx, cy + h * scale + 16, text);
        }
        Write(surface, path);
    }
}

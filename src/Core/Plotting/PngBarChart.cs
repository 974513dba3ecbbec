using ScottPlot;

namespace MLNetExtensions.Core.Plotting;

/// <summary>
/// Grouped bar chart as a PNG (ScottPlot 5): one cluster of bars per category on the x axis, one bar per group in each
/// cluster, optional error bars (e.g. mean ± s.d. over seeds). A NaN value leaves its bar out (a group that does not
/// apply to a category). The legend names the groups and sits outside the data area, to the right.
/// </summary>
public sealed class PngBarChart
{
    private readonly string[] _categories;
    private readonly List<(string Label, double[] Values, double[]? Errors)> _groups = new();

    /// <summary>Creates a chart with these x-axis categories, in order.</summary>
    public PngBarChart(IEnumerable<string> categories)
    {
        ArgumentNullException.ThrowIfNull(categories);
        _categories = categories.ToArray();
        if (_categories.Length == 0) throw new ArgumentException("A bar chart needs at least one category.", nameof(categories));
    }

    public string Title { get; set; } = "";
    public string YLabel { get; set; } = "";

    /// <summary>Adds one bar per category (NaN = no bar), with error bars ± <paramref name="errors"/> when given.</summary>
    public PngBarChart AddGroup(string label, IEnumerable<double> values, IEnumerable<double>? errors = null)
    {
        var v = values.ToArray();
        var e = errors?.ToArray();
        if (v.Length != _categories.Length || (e != null && e.Length != v.Length))
            throw new ArgumentException($"Group '{label}': {_categories.Length} values (and errors) expected, one per category; got {v.Length} values, {e?.Length.ToString() ?? "no"} errors.", nameof(values));
        _groups.Add((label, v, e));
        return this;
    }

    /// <summary>Renders the chart to a PNG file (written atomically).</summary>
    public void Save(string path, int width = 900, int height = 500)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (_groups.Count == 0) throw new InvalidOperationException("Add at least one group before saving a bar chart.");
        var plt = new Plot();
        plt.Font.Automatic();
        var palette = new ScottPlot.Palettes.Category10();
        double slot = 0.8 / _groups.Count; // clusters 0.8 wide, centred on the category's position
        for (int g = 0; g < _groups.Count; g++)
        {
            var (label, values, errors) = _groups[g];
            var colour = palette.GetColor(g);
            var bars = new List<Bar>();
            for (int c = 0; c < _categories.Length; c++)
            {
                if (!double.IsFinite(values[c])) continue;
                double err = errors != null && double.IsFinite(errors[c]) ? errors[c] : 0;
                bars.Add(new Bar
                {
                    Position = c - 0.4 + slot * (g + 0.5), Value = values[c], Error = err, Size = slot * 0.9,
                    FillColor = colour, ErrorSize = slot * 0.4,
                });
            }
            if (bars.Count > 0) plt.Add.Bars(bars);
            plt.Legend.ManualItems.Add(new LegendItem { LabelText = label, FillColor = colour });
        }
        plt.Axes.Bottom.SetTicks(Enumerable.Range(0, _categories.Length).Select(i => (double)i).ToArray(), _categories);
        plt.Axes.Margins(bottom: 0);
        plt.Title(Title);
        plt.YLabel(YLabel);
        plt.ShowLegend(Edge.Right);
        IO.AtomicFile.WriteAllBytes(path, plt.GetImageBytes(width, height, ImageFormat.Png));
    }
}

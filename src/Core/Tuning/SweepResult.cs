using System.Globalization;
using System.Text;
using Microsoft.Data.Analysis;
using MLNetExtensions.Core.IO;
using MLNetExtensions.Core.Plotting;

namespace MLNetExtensions.Core.Tuning;

/// <summary>
/// The outcome of a sweep: every trial, each setting's mean ± s.d. over its seeds, and the best setting (highest or
/// lowest mean among settings whose repeats all finished with a finite metric; ties go to the earlier setting).
/// </summary>
public sealed class SweepResult
{
    internal SweepResult(IReadOnlyList<SweepParameter> parameters, IReadOnlyList<TrialRecord> trials, IReadOnlyList<ParameterSet> settings,
        int seedsPerTrial, bool maximize, string metricName)
    {
        Parameters = parameters;
        Trials = trials;
        Maximize = maximize;
        MetricName = metricName;
        SeedsPerTrial = seedsPerTrial;
        Settings = trials.GroupBy(t => t.SettingIndex).OrderBy(g => g.Key)
            .Select(g => SettingSummary.From(g.Key, settings[g.Key], g.OrderBy(t => t.Repeat).Select(t => t.Metric).ToArray()))
            .ToArray();
        var complete = Settings.Where(s => s.Count == seedsPerTrial && double.IsFinite(s.Mean));
        Best = (maximize ? complete.OrderByDescending(s => s.Mean) : complete.OrderBy(s => s.Mean)).ThenBy(s => s.SettingIndex).FirstOrDefault();
    }

    /// <summary>The swept parameters.</summary>
    public IReadOnlyList<SweepParameter> Parameters { get; }
    /// <summary>Every finished trial, by setting then repeat (resumed ones included, flagged <see cref="TrialRecord.Resumed"/>).</summary>
    public IReadOnlyList<TrialRecord> Trials { get; }
    /// <summary>Per setting: mean, s.d. and count over its repeats, in setting order.</summary>
    public IReadOnlyList<SettingSummary> Settings { get; }
    /// <summary>The best setting, or null when none has a finite metric over all its repeats.</summary>
    public SettingSummary? Best { get; }
    /// <summary>Whether larger metrics were better.</summary>
    public bool Maximize { get; }
    /// <summary>The metric's name.</summary>
    public string MetricName { get; }
    /// <summary>Repeats per setting.</summary>
    public int SeedsPerTrial { get; }

    /// <summary>
    /// A Markdown table, best setting first: setting index, the parameters, mean, s.d. and n (failed trials show their
    /// mean as NaN and sort last).
    /// </summary>
    public string ToMarkdownTable()
    {
        var sb = new StringBuilder();
        var names = Parameters.Select(p => p.Name).ToArray();
        sb.Append("| setting | ").Append(string.Join(" | ", names.Select(Cell))).Append(names.Length > 0 ? " | " : "")
          .Append(Cell(MetricName)).Append(" (mean) | s.d. | n |\n");
        sb.Append("|---:|").Append(string.Concat(names.Select(_ => "---|"))).Append("---:|---:|---:|\n");
        foreach (var s in Ranked())
        {
            sb.Append("| ").Append(s.SettingIndex.ToString(CultureInfo.InvariantCulture)).Append(s == Best ? " (best)" : "").Append(" | ");
            foreach (var n in names) sb.Append(Cell(SweepValues.Display(s.Parameters[n]))).Append(" | ");
            sb.Append(Num(s.Mean)).Append(" | ").Append(double.IsNaN(s.StdDev) ? "–" : Num(s.StdDev)).Append(" | ")
              .Append(s.Count.ToString(CultureInfo.InvariantCulture)).Append(" |\n");
        }
        return sb.ToString();
    }

    /// <summary>
    /// One row per setting, in setting order: <c>Setting</c>, one column per swept parameter (numbers as
    /// <see cref="double"/>, anything else as its display text), <c>Mean</c>, <c>StdDev</c> (null for one repeat),
    /// <c>Count</c> and <c>Best</c>.
    /// </summary>
    public DataFrame ToDataFrame()
    {
        var columns = new List<DataFrameColumn> { new Int32DataFrameColumn("Setting", Settings.Select(s => s.SettingIndex)) };
        foreach (var p in Parameters)
            columns.Add(p.IsNumeric
                ? new DoubleDataFrameColumn(p.Name, Settings.Select(s => SweepValues.ToDouble(s.Parameters[p.Name])))
                : new StringDataFrameColumn(p.Name, Settings.Select(s => SweepValues.Display(s.Parameters[p.Name]))));
        columns.Add(new DoubleDataFrameColumn(MeanColumn, Settings.Select(s => s.Mean)));
        columns.Add(new DoubleDataFrameColumn("StdDev", Settings.Select(s => double.IsNaN(s.StdDev) ? (double?)null : s.StdDev)));
        columns.Add(new Int32DataFrameColumn("Count", Settings.Select(s => s.Count)));
        columns.Add(new BooleanDataFrameColumn("Best", Settings.Select(s => s == Best)));
        return new DataFrame(columns);
    }

    /// <summary>Name of the mean column of <see cref="ToDataFrame"/>: <c>Mean</c>.</summary>
    public const string MeanColumn = "Mean";

    /// <summary>Writes <see cref="ToDataFrame"/> as CSV (comma-separated, header row, invariant culture), atomically.</summary>
    public void SaveCsv(string path) => DataFrameCsv.Save(ToDataFrame(), path);

    /// <summary>Settings best first; non-finite means last.</summary>
    public IReadOnlyList<SettingSummary> Ranked()
    {
        var finite = Settings.Where(s => double.IsFinite(s.Mean));
        var ordered = (Maximize ? finite.OrderByDescending(s => s.Mean) : finite.OrderBy(s => s.Mean)).ThenBy(s => s.SettingIndex);
        return ordered.Concat(Settings.Where(s => !double.IsFinite(s.Mean))).ToArray();
    }

    /// <summary>
    /// Draws the metric against one numeric parameter as a PNG: each setting's mean with ± s.d. bars, a log x-axis for
    /// log-scaled parameters. Settings that share the other parameters' values form one line (up to 10 lines); otherwise
    /// (e.g. random search over several parameters) all settings form one scatter. Non-finite means are left out.
    /// </summary>
    public void SavePlot(string path, string parameterName, string? title = null, int width = 800, int height = 500)
    {
        ArgumentNullException.ThrowIfNull(path);
        var p = Parameters.FirstOrDefault(q => q.Name == parameterName)
            ?? throw new ArgumentException($"'{parameterName}' is not a swept parameter ({string.Join(", ", Parameters.Select(q => q.Name))}).", nameof(parameterName));
        if (!p.IsNumeric) throw new ArgumentException($"Parameter '{parameterName}' is not numeric ({SweepValues.TypeName(p.ValueType)}); the plot needs a numeric x-axis.", nameof(parameterName));
        var points = Settings.Where(s => double.IsFinite(s.Mean)).ToArray();
        var chart = new PngChart
        {
            Title = title ?? $"{MetricName} vs {parameterName} ({(SeedsPerTrial > 1 ? $"mean ± s.d. over {SeedsPerTrial} seeds" : "1 seed")})",
            XLabel = parameterName + (p.IsLogScale ? " (log)" : ""),
            YLabel = MetricName,
            LogX = p.IsLogScale,
        };
        var others = Parameters.Where(q => q.Name != parameterName).Select(q => q.Name).ToArray();
        // One group per combination of the other parameters, ordered by their values (numbers numerically).
        var groups = points.GroupBy(s => string.Join(", ", others.Select(o => $"{o}={SweepValues.Display(s.Parameters[o])}")))
            .OrderBy(g => g.First().Parameters, Comparer<ParameterSet>.Create((a, b) => CompareOn(others, a, b))).ToArray();
        bool lines = groups.Length <= 10 && groups.Any(g => g.Count() > 1);
        foreach (var g in lines ? groups : new[] { points.GroupBy(_ => MetricName).FirstOrDefault() })
        {
            if (g == null) continue;
            var ordered = g.OrderBy(s => SweepValues.ToDouble(s.Parameters[parameterName])).ToArray();
            chart.AddErrorBars(lines && others.Length > 0 ? g.Key : MetricName,
                ordered.Select(s => SweepValues.ToDouble(s.Parameters[parameterName])), ordered.Select(s => s.Mean),
                ordered.Select(s => double.IsFinite(s.StdDev) ? s.StdDev : 0), line: lines);
        }
        chart.Save(path, width, height);
    }

    private static int CompareOn(string[] names, ParameterSet a, ParameterSet b)
    {
        foreach (var n in names)
        {
            double x = SweepValues.ToDouble(a[n]), y = SweepValues.ToDouble(b[n]);
            int c = !double.IsNaN(x) && !double.IsNaN(y) ? x.CompareTo(y) : string.CompareOrdinal(SweepValues.Format(a[n]), SweepValues.Format(b[n]));
            if (c != 0) return c;
        }
        return 0;
    }

    private static string Num(double v) => v.ToString("G4", CultureInfo.InvariantCulture);
    private static string Cell(string s) => s.Replace("|", "\\|");
}

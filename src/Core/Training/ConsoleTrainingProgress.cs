using System.Globalization;

namespace MLNetExtensions.Core.Training;

/// <summary>
/// Shows a training run's <see cref="TrainingProgress"/> reports on the console. On a terminal, one line per epoch
/// that updates in place (carriage return) with each step report and ends with the epoch's summary; when the output
/// is redirected (a log file, a CI job), plain lines only: every finished epoch, and a step line at most every
/// <see cref="RedirectedStepInterval"/> so long epochs still show they are alive. Each line carries the loss, the
/// learning rate, the throughput, the ETA and the elapsed time. Pass it as the trainer options' <c>Progress</c>;
/// <paramref name="onReport"/> also receives every report (e.g. to keep the history for a chart).
/// </summary>
/// <param name="label">Prefix of every line (e.g. the run's name); null = none.</param>
/// <param name="maxEpochs">Shown as "epoch e/N" when given.</param>
/// <param name="onReport">Called with every report before it is shown.</param>
public sealed class ConsoleTrainingProgress(string? label = null, int? maxEpochs = null, Action<TrainingProgress>? onReport = null)
    : IProgress<TrainingProgress>
{
    private readonly object _gate = new();
    private int _shownWidth; // characters of the in-place line now on the terminal (0 = none)
    private TimeSpan? _lastPlainStep; // redirected output: when the last mid-epoch line was written

    /// <summary>Where the lines go. Default <see cref="Console.Out"/>.</summary>
    public TextWriter Writer { get; init; } = Console.Out;
    /// <summary>True: update one line per epoch in place; false: plain lines. Default: whether the console output is a terminal.</summary>
    public bool Interactive { get; init; } = !Console.IsOutputRedirected;
    /// <summary>Redirected output: the least time between two mid-epoch step lines. Default 30 s; <see cref="TimeSpan.MaxValue"/> = epoch lines only.</summary>
    public TimeSpan RedirectedStepInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <inheritdoc/>
    public void Report(TrainingProgress value)
    {
        onReport?.Invoke(value);
        lock (_gate)
        {
            var line = Format(value, label, maxEpochs);
            if (Interactive)
            {
                int width = ReferenceEquals(Writer, Console.Out) ? TerminalWidth() : int.MaxValue;
                if (line.Length > width) line = line[..Math.Max(0, width - 1)] + "…"; // a wrapped line cannot be rewritten with \r
                Writer.Write("\r" + line + new string(' ', Math.Max(0, _shownWidth - line.Length)));
                _shownWidth = line.Length;
                if (value.EpochCompleted) { Writer.WriteLine(); _shownWidth = 0; }
                Writer.Flush();
            }
            else if (value.EpochCompleted || value.Elapsed - (_lastPlainStep ?? TimeSpan.Zero) >= RedirectedStepInterval)
            {
                if (!value.EpochCompleted) _lastPlainStep = value.Elapsed;
                Writer.WriteLine(line);
            }
        }
    }

    /// <summary>
    /// One report as a line: <c>[label] epoch 2/4 step 150/400 loss 0.4321 lr 1.20e-003 val 0.8712 | 310 rows/s 4.8 steps/s | ETA 00:52 | 00:31</c>
    /// (parts the report does not have are left out).
    /// </summary>
    public static string Format(TrainingProgress p, string? label = null, int? maxEpochs = null)
    {
        var inv = CultureInfo.InvariantCulture;
        var s = new System.Text.StringBuilder();
        if (label != null) s.Append('[').Append(label).Append("] ");
        s.Append("epoch ").Append(p.Epoch.ToString(inv));
        if (maxEpochs is int n) s.Append('/').Append(n.ToString(inv));
        s.Append(" step ").Append(p.Step.ToString(inv));
        if (p.StepsPerEpoch is long spe && maxEpochs is int total) s.Append('/').Append((spe * total).ToString(inv));
        s.Append(" loss ").Append(p.TrainLoss.ToString("F4", inv));
        s.Append(" lr ").Append(p.LearningRate.ToString("0.00e+00", inv));
        if (p.ValidationMetric is double v) s.Append(" val ").Append(v.ToString("F4", inv));
        if (p.RowsPerSecond is not null || p.StepsPerSecond is not null)
        {
            s.Append(" |");
            if (p.RowsPerSecond is double r) s.Append(' ').Append(r.ToString(r >= 100 ? "F0" : "F1", inv)).Append(" rows/s");
            if (p.StepsPerSecond is double st) s.Append(' ').Append(st.ToString(st >= 10 ? "F1" : "F2", inv)).Append(" steps/s");
        }
        if (p.EstimatedRemaining is TimeSpan eta && eta > TimeSpan.Zero) s.Append(" | ETA ").Append(Clock(eta));
        s.Append(" | ").Append(Clock(p.Elapsed));
        if (p.EpochCompleted) s.Append(" (epoch done)");
        return s.ToString();
    }

    private static string Clock(TimeSpan t) => t.TotalHours >= 1
        ? $"{(int)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00}"
        : $"{t.Minutes:00}:{t.Seconds:00}";

    private static int TerminalWidth()
    {
        try { return Console.WindowWidth is > 20 and var w ? w : 120; }
        catch (IOException) { return 120; } // no console window (the writer is not a terminal after all)
    }
}

using MLNetExtensions.Core.Training;
using Xunit;

namespace MLNetExtensions.Tests.Core;

/// <summary>The console progress printer: one line per epoch rewritten in place on a terminal, plain lines when redirected.</summary>
public sealed class ConsoleTrainingProgressTests
{
    private static TrainingProgress Step(int epoch, long step, bool done, double seconds) =>
        new(epoch, step, 10, 0.5 / step, 1e-3, done ? 0.75 : null, done, TimeSpan.FromSeconds(seconds))
        {
            RowsPerSecond = 320, StepsPerSecond = 5, EstimatedRemaining = TimeSpan.FromSeconds(20 - 2 * step),
        };

    [Fact]
    public void FormatShowsEpochStepsLossThroughputEtaAndElapsed()
    {
        var line = ConsoleTrainingProgress.Format(Step(1, 4, false, 0.8), "run", maxEpochs: 2);
        Assert.Equal("[run] epoch 1/2 step 4/20 loss 0.1250 lr 1.00e-03 | 320 rows/s 5.00 steps/s | ETA 00:12 | 00:00", line);
        var end = ConsoleTrainingProgress.Format(Step(2, 10, true, 2), maxEpochs: 2);
        Assert.Contains("val 0.7500", end);
        Assert.DoesNotContain("ETA", end); // nothing left at the last step
        Assert.EndsWith("(epoch done)", end);
    }

    [Fact]
    public void TerminalRewritesOneLinePerEpochAndRedirectedOutputPrintsPlainEpochLines()
    {
        var reports = new[] { Step(1, 2, false, 1), Step(1, 5, false, 2), Step(1, 10, true, 3), Step(2, 15, false, 4), Step(2, 20, true, 5) };
        var seen = new List<TrainingProgress>();
        var tty = new StringWriter();
        var onTerminal = new ConsoleTrainingProgress(maxEpochs: 2, onReport: seen.Add) { Writer = tty, Interactive = true };
        foreach (var r in reports) onTerminal.Report(r);
        Assert.Equal(reports, seen);
        var lines = tty.ToString().Split(Environment.NewLine);
        Assert.Equal(3, lines.Length); // two finished epoch lines and an empty remainder
        Assert.Equal(3, lines[0].Count(c => c == '\r')); // epoch 1: three reports, each rewriting the line
        Assert.EndsWith("(epoch done)", lines[0].Split('\r')[^1].TrimEnd());
        Assert.Equal("", lines[2]);

        var log = new StringWriter();
        var redirected = new ConsoleTrainingProgress(maxEpochs: 2) { Writer = log, Interactive = false, RedirectedStepInterval = TimeSpan.MaxValue };
        foreach (var r in reports) redirected.Report(r);
        var plain = log.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, plain.Length);
        Assert.All(plain, l => Assert.DoesNotContain('\r', l));
        Assert.StartsWith("epoch 1/2 step 10/20", plain[0]);
        Assert.StartsWith("epoch 2/2 step 20/20", plain[1]);
    }
}

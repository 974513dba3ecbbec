using System.Collections.Concurrent;
using System.Diagnostics;
using MLNetExtensions.Tests.Infrastructure;
using Xunit;

namespace MLNetExtensions.Tests.Examples;

/// <summary>
/// Every example program parses its command line through the shared CommandLineApp: <c>--help</c> lists the options
/// with their defaults and the exit codes and exits 0 without starting work; a bad value (or a missing file) is one
/// line on stderr naming the option, exit code 1, no stack trace.
/// </summary>
public sealed class ExampleCliTests
{
    // (project folder, assembly, an option the help must list, bad arguments, a word the error must contain)
    private static readonly (string Project, string Assembly, string Option, string Bad, string Named)[] Examples =
    {
        ("AlignKd.FashionScenes", "AlignKd.FashionScenes", "--student-steps", "--seeds x", "--seeds"),
        ("Excp.FashionMnist", "Excp.FashionMnist", "--alphas", "--epochs x", "--epochs"),
        ("Fustal.Synthetic", "Fustal.Synthetic", "FUSTAL_EPOCH_SCALE", "run x", "'x'"),
        ("GeminiFusion.Scenes", "GeminiFusion.Scenes", "--variants", "--variants nope", "--variants"),
        ("RewardModelSweep.QaFeedback", "RewardModelSweep.QaFeedback", "--ppo-steps", "--profile huge", "huge"),
        ("Serving.Service", "Serving.Service", "--pool", "--model /nonexistent/model.zip", "/nonexistent/model.zip"),
        ("Slab.FashionMnist", "Slab.FashionMnist", "--runs", "--epochs x", "--epochs"),
        ("SqueezeTime.Motion", "SqueezeTime.Motion", "--from-mp4", "--epochs x", "--epochs"),
        ("Ssa.Scenes", "Ssa.Scenes", "--pretrained", "--pretrained /nonexistent/backbone.pt", "/nonexistent/backbone.pt"),
        ("Sweeps.Distributed", "Sweeps.Distributed", "--in-process", "--worker --coordinator", "exactly one"),
        ("TinyViM.FashionMnist", "TinyViM.FashionMnist", "--min-accuracy", "--epochs x", "--epochs"),
        ("TranslationEval", "TranslationEval", "output-dir", "out --bogus", "--bogus"),
    };

    [Fact]
    public void EveryExampleHasHelpWithDefaultsAndOneLineErrorsWithExitCodeOne()
    {
        var failures = new ConcurrentBag<string>();
        var runs = Examples.SelectMany(e => new[] { (e, Help: true), (e, Help: false) }).ToArray();
        Parallel.ForEach(runs, new ParallelOptions { MaxDegreeOfParallelism = 2 }, run =>
        {
            var (e, help) = run;
            var dll = BuiltProgram.Path($"examples/{e.Project}", e.Assembly);
            var (code, stdout, stderr, seconds) = Start(dll, help ? "--help" : e.Bad);
            string what = $"{e.Project} {(help ? "--help" : e.Bad)}";
            if (stdout.Contains("   at ") || stderr.Contains("   at ")) failures.Add($"{what}: a stack trace\n{stderr}");
            if (help)
            {
                if (code != 0) failures.Add($"{what}: exit {code}, expected 0\n{stderr}");
                if (!stdout.Contains(e.Option) || !stdout.Contains("Exit codes: 0 ok, 1 usage or input error, 2 failure."))
                    failures.Add($"{what}: the help does not list {e.Option} and the exit codes\n{stdout}");
                if (e.Project is not ("Fustal.Synthetic" or "TranslationEval" or "Sweeps.Distributed") /* arguments and flags only */ && !stdout.Contains("[default:"))
                    failures.Add($"{what}: the help shows no defaults\n{stdout}");
                // Training takes minutes; a help that returns within 45 s (generous for a loaded CI machine) did not start it.
                if (seconds > 45) failures.Add($"{what}: took {seconds:F1}s (did it start work?)");
            }
            else
            {
                if (code != 1) failures.Add($"{what}: exit {code}, expected 1\n{stdout}\n{stderr}");
                var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Where(l => !l.StartsWith("Run '")).ToArray();
                if (lines.Length != 1 || !lines[0].Contains(e.Named))
                    failures.Add($"{what}: expected one error line naming {e.Named}, got\n{stderr}");
            }
        });
        Assert.True(failures.IsEmpty, string.Join("\n---\n", failures));
    }

    private static (int Code, string Stdout, string Stderr, double Seconds) Start(string dll, string arguments)
    {
        var psi = new ProcessStartInfo("dotnet", $"\"{dll}\" {arguments}")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(), // a bad run must not leave output folders in the test directory
        };
        psi.Environment.Remove("MLNETEXT_STACKTRACE");
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000)) { p.Kill(entireProcessTree: true); return (-1, stdout.Result, "timed out after 60 s", sw.Elapsed.TotalSeconds); }
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result, sw.Elapsed.TotalSeconds);
    }
}

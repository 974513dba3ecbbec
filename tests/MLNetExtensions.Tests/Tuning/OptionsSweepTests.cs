using MLNetExtensions.Core.Tuning;
using MLNetExtensions.Tests.Infrastructure;
using Xunit;

namespace MLNetExtensions.Tests.Tuning;

/// <summary>The sweep loop: fresh options per trial, seeds, aggregation, best selection, resume, file checks, cancellation.</summary>
public sealed class OptionsSweepTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("mlx-sweep");
    public void Dispose() => _dir.Delete(recursive: true);
    private string Csv(string name = "sweep.csv") => Path.Combine(_dir.FullName, name);

    private static SearchSpace<ToyOptions> Space() => new SearchSpace<ToyOptions>()
        .Values(o => o.Rate, new[] { 1e-3, 1e-2, 1e-1 }, logBase: true)
        .Choice(o => o.Width, 1, 2);

    // A deterministic "metric" of the options and the seed.
    private static double Score(ToyOptions o, int seed) => Math.Log10(o.Rate) + o.Width + 0.01 * seed;

    [Fact]
    public void EveryTrialGetsFreshOptionsWithItsSettingAndTheSeedIsSetOnTorchOptions()
    {
        var seen = new List<(ToyOptions Options, TrialContext Context)>();
        var sweep = new OptionsSweep<ToyOptions>(() => new ToyOptions { Mode = "base" }, Space(), new GridSearchTuner(),
            (o, t, _) => { seen.Add((o, t)); return Score(o, t.Seed); }) { SeedsPerTrial = 2, BaseSeed = 10 };
        var result = sweep.Run();
        Assert.Equal(12, seen.Count);
        Assert.Equal(12, seen.Select(s => s.Options).Distinct().Count()); // never a shared object
        Assert.All(seen, s =>
        {
            Assert.Equal("base", s.Options.Mode);                             // factory values kept
            Assert.Equal(s.Context.Parameters.Get<double>("Rate"), s.Options.Rate); // setting applied
            Assert.Equal(s.Context.Parameters.Get<int>("Width"), s.Options.Width);
            Assert.Equal(10 + s.Context.Repeat, s.Context.Seed);
            Assert.Equal(s.Context.SettingIndex * 2 + s.Context.Repeat, s.Context.TrialIndex);
            Assert.Equal(12, s.Context.TotalTrials);
        });
        Assert.Equal(6, result.Settings.Count);
        Assert.Equal(12, result.Trials.Count);

        // TorchTrainerOptions: Seed is set from BaseSeed (= the factory's Seed when unset) + repeat; the sweep's token flows in.
        var seeds = new List<(int? Seed, bool Cancellable)>();
        using var cts = new CancellationTokenSource();
        new OptionsSweep<TestCnnTrainer.Options>(() => new TestCnnTrainer.Options { Seed = 40 },
            new SearchSpace<TestCnnTrainer.Options>().Choice(o => o.BatchSize, 8, 16), new GridSearchTuner(),
            (o, t, _) => { seeds.Add((o.Seed, o.CancellationToken.CanBeCanceled)); return o.BatchSize; }) { SeedsPerTrial = 3 }.Run(cts.Token);
        Assert.Equal(new int?[] { 40, 41, 42, 40, 41, 42 }, seeds.Select(s => s.Seed));
        Assert.All(seeds, s => Assert.True(s.Cancellable));
        Assert.Contains("Seed", Assert.Throws<ArgumentException>(() => new OptionsSweep<TestCnnTrainer.Options>(() => new(),
            new SearchSpace<TestCnnTrainer.Options>().Choice(o => o.Seed, 1, 2), new GridSearchTuner(), (_, _, _) => 0)).Message);
    }

    [Fact]
    public void BestSettingAggregatesSeedsByMeanForMaximizeAndMinimize()
    {
        // Setting A = Width 1: seeds give 0.9, 0.1 (mean 0.5, one lucky seed). B = Width 2: 0.6, 0.6. C = Width 4: 0.2, 0.3.
        var table = new Dictionary<(int, int), double> { [(1, 0)] = 0.9, [(1, 1)] = 0.1, [(2, 0)] = 0.6, [(2, 1)] = 0.6, [(4, 0)] = 0.2, [(4, 1)] = 0.3 };
        SweepResult Run(bool max) => new OptionsSweep<ToyOptions>(() => new ToyOptions(), new SearchSpace<ToyOptions>().Choice(o => o.Width, 1, 2, 4),
            new GridSearchTuner(), (o, t, _) => table[(o.Width, t.Repeat)]) { SeedsPerTrial = 2, Maximize = max, MetricName = "accuracy" }.Run();
        var max = Run(true);
        Assert.Equal(2, max.Best!.Parameters.Get<int>("Width")); // the single best trial (0.9) belongs to Width 1, whose mean is lower
        Assert.Equal(0.6, max.Best.Mean, 12);
        Assert.Equal(0, max.Best.StdDev, 12);
        var a = max.Settings.Single(s => s.Parameters.Get<int>("Width") == 1);
        Assert.Equal(0.5, a.Mean, 12);
        Assert.Equal(Math.Sqrt(0.32), a.StdDev, 12); // sample s.d. (n − 1) of {0.9, 0.1}
        Assert.Equal(2, a.Count);
        Assert.Equal(new[] { 1, 0, 2 }, max.Ranked().Select(s => s.SettingIndex));
        var min = Run(false);
        Assert.Equal(4, min.Best!.Parameters.Get<int>("Width"));
        Assert.Equal(0.25, min.Best.Mean, 12);

        var md = max.ToMarkdownTable().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("| setting | Width | accuracy (mean) | s.d. | n |", md[0]);
        Assert.Equal("| 1 (best) | 2 | 0.6 | 0 | 2 |", md[2]);
        Assert.Equal(5, md.Length);
    }

    [Fact]
    public void ResumeSkipsFinishedTrialsAndExtendsToMoreSeeds()
    {
        int calls = 0;
        OptionsSweep<ToyOptions> Make(int seeds, Func<ToyOptions, TrialContext, double>? eval = null) =>
            new(() => new ToyOptions(), Space(), new GridSearchTuner(), (o, t, _) => { calls++; return eval?.Invoke(o, t) ?? Score(o, t.Seed); })
            { ResultsPath = Csv(), SeedsPerTrial = seeds, MetricName = "score" };

        // First run dies in the 4th trial (a crash mid-trial): three trials are on disk.
        Assert.Throws<InvalidOperationException>(() => Make(1, (o, t) => t.TrialIndex == 3 ? throw new InvalidOperationException("crash") : Score(o, t.Seed)).Run());
        Assert.Equal(4, calls);
        Assert.Equal(1 + 3, File.ReadAllLines(Csv()).Length);
        calls = 0;
        var resumed = Make(1).Run();
        Assert.Equal(3, calls); // only the three unfinished settings
        Assert.Equal(3, resumed.Trials.Count(t => t.Resumed));
        Assert.Equal(6, resumed.Trials.Count);
        calls = 0;
        Assert.Equal(6, Make(1).Run().Trials.Count);
        Assert.Equal(0, calls); // all done
        // More seeds later: only the new repeats run; the aggregate covers both.
        var more = Make(2).Run();
        Assert.Equal(6, calls);
        Assert.All(more.Settings, s => Assert.Equal(2, s.Count));
        Assert.Equal(1 + 12, File.ReadAllLines(Csv()).Length);
        var fresh = new OptionsSweep<ToyOptions>(() => new ToyOptions(), Space(), new GridSearchTuner(), (o, t, _) => Score(o, t.Seed)) { SeedsPerTrial = 2 }.Run();
        Assert.Equal(fresh.Settings.Select(s => s.Mean), more.Settings.Select(s => s.Mean)); // round-trips exactly ("R" format)
        Assert.Equal(fresh.Best!.Parameters, more.Best!.Parameters);
    }

    [Fact]
    public void AResultsFileOfAnotherSweepIsRejectedNamingTheFile()
    {
        new OptionsSweep<ToyOptions>(() => new ToyOptions(), Space(), new GridSearchTuner(), (o, t, _) => Score(o, t.Seed)) { ResultsPath = Csv() }.Run();
        int calls = 0;
        double Eval(ToyOptions o, TrialContext t, CancellationToken _) { calls++; return 0; }
        // Other columns.
        var columns = Assert.Throws<InvalidDataException>(() => new OptionsSweep<ToyOptions>(() => new ToyOptions(),
            new SearchSpace<ToyOptions>().Choice(o => o.Width, 1, 2), new GridSearchTuner(), Eval) { ResultsPath = Csv() }.Run());
        Assert.Contains(Csv(), columns.Message);
        Assert.Contains("different sweep", columns.Message);
        // Same columns, other values.
        var values = Assert.Throws<InvalidDataException>(() => new OptionsSweep<ToyOptions>(() => new ToyOptions(),
            new SearchSpace<ToyOptions>().Values(o => o.Rate, new[] { 1e-3, 5e-3, 1e-1 }).Choice(o => o.Width, 1, 2), new GridSearchTuner(), Eval) { ResultsPath = Csv() }.Run());
        Assert.Contains(Csv(), values.Message);
        Assert.Contains("Rate=0.01", values.Message);
        // Other seeds.
        var seeds = Assert.Throws<InvalidDataException>(() => new OptionsSweep<ToyOptions>(() => new ToyOptions(), Space(), new GridSearchTuner(), Eval)
            { ResultsPath = Csv(), BaseSeed = 3 }.Run());
        Assert.Contains("BaseSeed", seeds.Message);
        // Other metric name.
        Assert.Throws<InvalidDataException>(() => new OptionsSweep<ToyOptions>(() => new ToyOptions(), Space(), new GridSearchTuner(), Eval)
            { ResultsPath = Csv(), MetricName = "loss" }.Run());
        Assert.Equal(0, calls);
    }

    [Fact]
    public void ATruncatedOrCorruptLineIsDetected()
    {
        new OptionsSweep<ToyOptions>(() => new ToyOptions(), Space(), new GridSearchTuner(), (o, t, _) => Score(o, t.Seed)) { ResultsPath = Csv() }.Run();
        var text = File.ReadAllText(Csv());
        int calls = 0;
        SweepResult Rerun() => new OptionsSweep<ToyOptions>(() => new ToyOptions(), Space(), new GridSearchTuner(), (o, t, _) => { calls++; return 0; }) { ResultsPath = Csv() }.Run();

        File.WriteAllText(Csv(), text[..^9]); // cut inside the last line
        var truncated = Assert.Throws<InvalidDataException>(Rerun);
        Assert.Contains($"'{Csv()}' line 7", truncated.Message);
        Assert.Contains("truncated", truncated.Message);

        var lines = text.Split('\n');
        lines[3] = lines[3].Replace(",", ";");
        File.WriteAllText(Csv(), string.Join('\n', lines));
        var corrupt = Assert.Throws<InvalidDataException>(Rerun);
        Assert.Contains("line 4", corrupt.Message);

        lines = text.Split('\n');
        var fields = lines[5].Split(',');
        fields[5] = "abc"; // the metric
        lines[5] = string.Join(',', fields);
        File.WriteAllText(Csv(), string.Join('\n', lines));
        var notNumber = Assert.Throws<InvalidDataException>(Rerun);
        Assert.Contains("line 6", notNumber.Message);
        Assert.Contains("'abc' in column metric", notNumber.Message);
        Assert.Equal(0, calls);

        // Removing the damaged line, as the message advises, re-runs just that trial.
        lines = text.Split('\n');
        File.WriteAllText(Csv(), string.Join('\n', lines.Where((_, i) => i != 5)));
        Assert.Equal(6, Rerun().Trials.Count);
        Assert.Equal(1, calls);
    }

    [Fact]
    public void CancellationStopsBetweenTrialsAndKeepsTheFinishedOnes()
    {
        using var cts = new CancellationTokenSource();
        int calls = 0;
        var sweep = new OptionsSweep<ToyOptions>(() => new ToyOptions(), Space(), new GridSearchTuner(),
            (o, t, _) => { calls++; if (t.TrialIndex == 1) cts.Cancel(); return Score(o, t.Seed); }) { ResultsPath = Csv() };
        Assert.ThrowsAny<OperationCanceledException>(() => sweep.Run(cts.Token));
        Assert.Equal(2, calls); // the trial that saw the cancellation finished (its evaluation ignored the token); no third one started
        Assert.Equal(1 + 2, File.ReadAllLines(Csv()).Length);
        calls = 0;
        var rest = new OptionsSweep<ToyOptions>(() => new ToyOptions(), Space(), new GridSearchTuner(), (o, t, _) => { calls++; return Score(o, t.Seed); }) { ResultsPath = Csv() }.Run();
        Assert.Equal(4, calls);
        Assert.Equal(6, rest.Trials.Count);
    }

    [Fact]
    public void FailedTrialsAreRecordedWhenAskedProgressIsReportedAndThePlotIsWritten()
    {
        var reports = new List<SweepProgress>();
        var sweep = new OptionsSweep<ToyOptions>(() => new ToyOptions(), Space(), new GridSearchTuner(),
            (o, t, _) => o.Rate == 1e-1 && o.Width == 2 ? throw new InvalidOperationException("Training diverged,\nlower LearningRate") : Score(o, t.Seed))
        {
            ResultsPath = Csv(), ContinueOnTrialError = true, SeedsPerTrial = 2, Progress = new SyncProgress<SweepProgress>(reports.Add),
        };
        var result = sweep.Run();
        var failed = result.Settings.Single(s => double.IsNaN(s.Mean));
        Assert.Equal("Rate=0.1, Width=2", failed.Parameters.Key);
        Assert.Equal(failed, result.Ranked()[^1]);
        Assert.Equal(result.Settings.Where(s => double.IsFinite(s.Mean)).Max(s => s.Mean), result.Best!.Mean);
        Assert.Contains("InvalidOperationException: Training diverged, lower LearningRate", File.ReadAllText(Csv()));
        // Failed trials count as finished on resume.
        Assert.Equal(12, new OptionsSweep<ToyOptions>(() => new ToyOptions(), Space(), new GridSearchTuner(), (_, _, _) => throw new Exception("must not run"))
            { ResultsPath = Csv(), SeedsPerTrial = 2 }.Run().Trials.Count);

        Assert.Equal(Enumerable.Range(1, 12), reports.Select(r => r.Completed));
        Assert.All(reports, r => Assert.Equal(12, r.Total));
        Assert.Null(reports[0].Best); // setting 0 not complete after its first seed
        Assert.NotNull(reports[1].Best);

        var png = Path.Combine(_dir.FullName, "rate.png");
        result.SavePlot(png, "Rate");
        var bytes = File.ReadAllBytes(png);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
        Assert.True(bytes.Length > 2000);
        Assert.Contains("Width", Assert.Throws<ArgumentException>(() => result.SavePlot(png, "Mode")).Message);
    }

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}

using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Microsoft.ML.Runtime;

namespace MLNetExtensions.Core.Tuning;

/// <summary>
/// A sweep over a component's options (ML.NET AutoML's experiment, small): every setting the tuner proposes is
/// evaluated <see cref="SeedsPerTrial"/> times, each trial on a fresh options object from the factory with the
/// setting applied and the seed set, and scored by the caller's <c>evaluate</c>. Finished trials are appended to
/// <see cref="ResultsPath"/> at once, so an interrupted sweep loses at most the trial in progress and a re-run with the
/// same path resumes where it stopped. The trials run through <see cref="Executor"/> (in this process by default;
/// on a cluster with MLNetExtensions.Tuning.Orleans); the sweep alone writes the file, one row per (setting, repeat).
/// </summary>
/// <typeparam name="TOptions">The component's options class.</typeparam>
public sealed class OptionsSweep<TOptions> : ISweepTrialRunner where TOptions : class
{
    private readonly Func<TOptions> _createOptions;
    private readonly Func<TOptions, TrialContext, CancellationToken, double> _evaluate;
    private readonly IHost? _host;

    /// <summary>Creates a sweep.</summary>
    /// <param name="createOptions">Returns a fresh base options object for every trial (never a shared instance).</param>
    /// <param name="space">The swept properties.</param>
    /// <param name="tuner">Proposes the settings (<see cref="GridSearchTuner"/>, <see cref="RandomSearchTuner"/>).</param>
    /// <param name="evaluate">Trains/evaluates with the trial's options and returns the metric; receives the sweep's cancellation token.</param>
    public OptionsSweep(Func<TOptions> createOptions, SearchSpace<TOptions> space, ISweepTuner tuner,
        Func<TOptions, TrialContext, CancellationToken, double> evaluate)
        : this(createOptions, space, tuner, evaluate, host: null) { }

    internal OptionsSweep(Func<TOptions> createOptions, SearchSpace<TOptions> space, ISweepTuner tuner,
        Func<TOptions, TrialContext, CancellationToken, double> evaluate, IHost? host)
    {
        _createOptions = createOptions ?? throw new ArgumentNullException(nameof(createOptions));
        Space = space ?? throw new ArgumentNullException(nameof(space));
        Tuner = tuner ?? throw new ArgumentNullException(nameof(tuner));
        _evaluate = evaluate ?? throw new ArgumentNullException(nameof(evaluate));
        _host = host;
        CheckSeedNotSwept();
    }

    private void CheckSeedNotSwept()
    {
        if (IsTorchOptions && Space.Parameters.Any(p => p.Name == nameof(ISweepableOptions.Seed)))
            throw new ArgumentException("The search space sweeps 'Seed', which the sweep sets itself (BaseSeed + repeat); use SeedsPerTrial instead.", "space");
    }

    /// <summary>The swept properties.</summary>
    public SearchSpace<TOptions> Space { get; }
    /// <summary>The tuner.</summary>
    public ISweepTuner Tuner { get; }
    /// <summary>True when a larger metric is better (accuracy, mIoU); false for losses/errors. Default true.</summary>
    public bool Maximize { get; set; } = true;
    /// <summary>Name of the metric (CSV column, table header, plot label). Default <c>metric</c>.</summary>
    public string MetricName { get; set; } = "metric";
    /// <summary>Evaluations of every setting, with seeds BaseSeed, BaseSeed+1, …; aggregated by mean and s.d. Default 1.</summary>
    public int SeedsPerTrial { get; set; } = 1;
    /// <summary>
    /// Seed of repeat 0. Null = the factory's <c>TorchTrainerOptions.Seed</c> when set, else 0. Every setting uses the
    /// same seeds (common random numbers), so settings are compared on equal initialisations and data orders. Default null.
    /// </summary>
    public int? BaseSeed { get; set; }
    /// <summary>CSV of finished trials (appended atomically after each); re-running with the same file resumes. Null = in memory only. Default null.</summary>
    public string? ResultsPath { get; set; }
    /// <summary>
    /// Record a trial whose evaluation throws (e.g. training diverged) as failed (metric NaN, message in the CSV) and go
    /// on; false rethrows. Failed trials count as finished on resume. Default false.
    /// </summary>
    public bool ContinueOnTrialError { get; set; }
    /// <summary>Receives a report after every finished trial, one at a time (on the sweep's thread with the in-process executor).</summary>
    public IProgress<SweepProgress>? Progress { get; set; }
    /// <summary>
    /// Runs the trials: <see cref="InProcessTrialExecutor"/> (one after another in this process) or a distributed
    /// executor such as MLNetExtensions.Tuning.Orleans' <c>OrleansTrialExecutor</c>. Default in process.
    /// </summary>
    public ITrialExecutor Executor { get; set; } = InProcessTrialExecutor.Instance;

    private static bool IsTorchOptions => typeof(ISweepableOptions).IsAssignableFrom(typeof(TOptions));

    /// <summary>
    /// Runs (or resumes) the sweep. Cancellation is checked before every trial and passed to <c>evaluate</c> (and to
    /// <c>TorchTrainerOptions.CancellationToken</c> when the factory left it unset); a cancelled sweep throws
    /// <see cref="OperationCanceledException"/> with every finished trial already in the results file.
    /// </summary>
    public SweepResult Run(CancellationToken cancellationToken = default)
    {
        CheckSeedNotSwept(); // the space may have grown since construction
        if (SeedsPerTrial < 1) throw new ArgumentOutOfRangeException(nameof(SeedsPerTrial), SeedsPerTrial, "SeedsPerTrial must be at least 1.");
        if (string.IsNullOrWhiteSpace(MetricName) || MetricName.IndexOfAny(new[] { ',', '"', '\n', '\r' }) >= 0 || MetricName != MetricName.Trim())
            throw new ArgumentException($"MetricName '{MetricName}' must be a non-empty name without commas, quotes, newlines or outer spaces.", nameof(MetricName));

        var clock = Stopwatch.StartNew();
        var parameters = Space.Parameters;
        var settings = Tuner.Propose(parameters).ToList();
        if (settings.Count == 0) throw new InvalidOperationException($"The tuner ({Tuner.Description}) proposed no setting.");
        int baseSeed = BaseSeed ?? (IsTorchOptions && _createOptions() is ISweepableOptions t && t.Seed is int seed0 ? seed0 : 0);
        int total = checked(settings.Count * SeedsPerTrial);
        using var ch = _host?.Start("Sweep");
        ch?.Info(MessageSensitivity.None, $"Sweep: {Tuner.Description}, {settings.Count} settings × {SeedsPerTrial} seeds = {total} trials; {(Maximize ? "maximise" : "minimise")} {MetricName}.");

        var done = new Dictionary<(int Setting, int Repeat), TrialRecord>();
        SweepResultsFile? file = null;
        if (ResultsPath != null)
        {
            file = new SweepResultsFile(ResultsPath, parameters.Select(p => p.Name).ToArray(), MetricName);
            foreach (var row in file.LoadOrCreate())
            {
                // Rows beyond this sweep (a larger earlier sweep) stay in the file but are not part of this result.
                if (row.Setting >= settings.Count || row.Repeat >= SeedsPerTrial) continue;
                var expected = settings[row.Setting];
                var texts = expected.Items.Select(p => SweepValues.Format(p.Value)).ToArray();
                for (int i = 0; i < texts.Length; i++)
                    if (texts[i] != row.ParameterTexts[i])
                        throw new InvalidDataException($"Results file '{file.Path}' belongs to a different search space or tuner: line {row.Line} " +
                            $"has {parameters[i].Name}={row.ParameterTexts[i]} for setting {row.Setting}, but this sweep's setting {row.Setting} is {expected}. " +
                            "Use another ResultsPath or delete the file.");
                if (row.Seed != baseSeed + row.Repeat)
                    throw new InvalidDataException($"Results file '{file.Path}' line {row.Line} was run with seed {row.Seed} for repeat {row.Repeat}, " +
                        $"but this sweep's BaseSeed {baseSeed} gives seed {baseSeed + row.Repeat}. Use the same BaseSeed, another ResultsPath, or delete the file.");
                done[(row.Setting, row.Repeat)] = new TrialRecord(row.Setting, row.Repeat, row.Seed, expected, row.Metric,
                    TimeSpan.FromSeconds(row.Seconds), row.Error, Resumed: true);
            }
            if (done.Count > 0) ch?.Info(MessageSensitivity.None, $"Resuming: {done.Count} of {total} trials already in '{file.Path}'.");
        }

        int resumed = done.Count;
        var pending = new List<TrialRequest>();
        for (int s = 0; s < settings.Count; s++)
            for (int r = 0; r < SeedsPerTrial; r++)
                if (!done.ContainsKey((s, r)))
                    pending.Add(new TrialRequest(s, r, baseSeed + r, settings[s].Key, s * SeedsPerTrial + r, total));
        var executor = Executor ?? throw new InvalidOperationException("Executor is null; use InProcessTrialExecutor.Instance for in-process trials.");
        if (pending.Count > 0)
        {
            if (executor is not InProcessTrialExecutor) ch?.Info(MessageSensitivity.None, $"Executor: {executor.Description}.");
            executor.Execute(this, pending, (request, outcome) =>
            {
                // At-least-once executors may report a trial twice (re-run after its worker was lost): first one wins.
                if (done.ContainsKey(request.Key)) return;
                int s = request.SettingIndex;
                if (outcome.Error != null && !ContinueOnTrialError)
                {
                    if (outcome.Exception != null) ExceptionDispatchInfo.Throw(outcome.Exception);
                    throw new InvalidOperationException($"{request} [{settings[s]}] failed{On(outcome)}: {outcome.Error} " +
                        "(set ContinueOnTrialError to record failed trials and go on).");
                }
                var record = new TrialRecord(s, request.Repeat, request.Seed, settings[s], outcome.Error != null ? double.NaN : outcome.Metric,
                    outcome.Duration, outcome.Error, Resumed: false) { Worker = outcome.Worker };
                file?.Append(record);
                done[request.Key] = record;
                ch?.Info(MessageSensitivity.None, $"trial {request.TrialIndex + 1}/{total} [{settings[s]}] seed {record.Seed}: {MetricName} {SweepValues.Display(record.Metric)}" +
                    (record.Error != null ? $" (failed: {record.Error})" : "") + $" in {record.Duration.TotalSeconds:F1} s{On(outcome)}" +
                    (outcome.Attempts > 1 ? $" (attempt {outcome.Attempts})" : ""));
                Progress?.Report(new SweepProgress(done.Count, total, resumed, record, Summaries(settings, done).Best, clock.Elapsed));
            }, cancellationToken);
            var missing = pending.FirstOrDefault(p => !done.ContainsKey(p.Key));
            if (missing != null) throw new InvalidOperationException($"The executor ({executor.Description}) returned without reporting {missing}.");
        }

        var result = Summaries(settings, done);
        ch?.Info(MessageSensitivity.None, result.Best == null ? "Sweep finished: no setting has a finite metric."
            : $"Sweep finished: best [{result.Best.Parameters}] {MetricName} {SweepValues.Display(result.Best.Mean)}" +
              (result.Best.Count > 1 ? $" ± {SweepValues.Display(result.Best.StdDev)} (n={result.Best.Count})" : ""));
        return result;
    }

    private static string On(TrialOutcome o) => o.Worker != null ? $" on {o.Worker}" : "";

    /// <inheritdoc/>
    public TrialOutcome RunTrial(TrialRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var settings = Tuner.Propose(Space.Parameters).Take(request.SettingIndex + 1).ToList();
        if (request.SettingIndex < 0 || request.SettingIndex >= settings.Count || request.Repeat < 0)
            throw new ArgumentException($"{request} is outside this sweep ({Tuner.Description} proposed {settings.Count} settings); " +
                "the worker runs another version of the sweep definition than the coordinator.", nameof(request));
        var setting = settings[request.SettingIndex];
        if (setting.Key != request.ParameterKey)
            throw new ArgumentException($"{request} is [{request.ParameterKey}] on the coordinator but [{setting.Key}] here; the worker runs " +
                "another version of the sweep definition (space or tuner) than the coordinator.", nameof(request));

        var options = _createOptions() ?? throw new InvalidOperationException("The options factory returned null.");
        Space.Apply(options, setting);
        if (options is ISweepableOptions torch)
        {
            torch.Seed = request.Seed;
            if (!torch.CancellationToken.CanBeCanceled) torch.CancellationToken = cancellationToken;
        }
        var context = new TrialContext(request.TrialIndex, request.SettingIndex, request.Repeat, request.Seed, setting, request.TotalTrials);
        var watch = Stopwatch.StartNew();
        try
        {
            double metric = _evaluate(options, context, cancellationToken);
            return new TrialOutcome(metric, watch.Elapsed, null);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return new TrialOutcome(double.NaN, watch.Elapsed, $"{e.GetType().Name}: {e.Message}") { Exception = e };
        }
    }

    private SweepResult Summaries(List<ParameterSet> settings, Dictionary<(int Setting, int Repeat), TrialRecord> done)
    {
        var trials = done.Values.OrderBy(t => t.SettingIndex).ThenBy(t => t.Repeat).ToList();
        return new SweepResult(Space.Parameters, trials, settings, SeedsPerTrial, Maximize, MetricName);
    }
}

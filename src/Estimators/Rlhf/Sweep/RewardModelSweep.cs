using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.ML;
using MLNetExtensions.Core.IO;
using MLNetExtensions.Core.Text;
using MLNetExtensions.Core.Tuning;
using MLNetExtensions.Transforms.Language;
using MLNetExtensions.Transforms.Rlhf.Policy;
using MLNetExtensions.Transforms.Rlhf.Ppo;
using MLNetExtensions.Transforms.Rlhf.QaFeedback;
using MLNetExtensions.Transforms.Rlhf.RewardModels;
using MLNetExtensions.Transforms.Rlhf.Sweep;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Estimators.Rlhf.Sweep;

/// <summary>
/// The RLHF accuracy-paradox sweep (note §7) on the synthetic QA-feedback task: SFT policy → feedback sampled from it
/// (η-noisy labels and preferences) → per task one RM training run with a dev evaluation and kept weights every
/// <c>RmCheckpointEvery</c> steps → K checkpoints evenly spaced in accuracy (step 0 and the maximum kept; the most
/// accurate is the evaluation RM) plus optional knob RMs → one PPO run per (task, RM, seed) through
/// <c>mlContext.Sweeps()</c> (grid; resumable: a trial already in <c>trials_{hash}.csv</c> is skipped) → every §7.6
/// output in <see cref="RewardModelSweepOptions.OutputDirectory"/>. It measures; it assumes no paradox.
/// </summary>
public sealed class RewardModelSweep
{
    private readonly MLContext _ml;
    private readonly RewardModelSweepOptions _o;
    private readonly QaFeedbackTaskOptions _task = new();
    private readonly TextTokenizer _tok;
    private readonly string _hash;

    /// <summary>Creates the sweep (invalid options throw here, naming the option).</summary>
    public RewardModelSweep(MLContext mlContext, RewardModelSweepOptions options)
    {
        _ml = mlContext ?? throw new ArgumentNullException(nameof(mlContext));
        _o = options ?? throw new ArgumentNullException(nameof(options));
        _o.Validate();
        _tok = QaFeedbackText.CreateTokenizer(_task);
        _hash = _o.ConfigHash();
    }

    /// <summary>Receives one human-readable line per stage and per finished run.</summary>
    public IProgress<string>? Progress { get; set; }

    /// <summary>The config hash (names the trials file; every runs.csv row carries it).</summary>
    public string ConfigHash => _hash;

    private string Out(params string[] parts) => Path.Combine(new[] { _o.OutputDirectory }.Concat(parts).ToArray());
    private void Say(string line) => Progress?.Report(line);
    private static QaFeedbackAspect Aspect(string task) => task switch
    {
        "relevance" => QaFeedbackAspect.Relevance, "factuality" => QaFeedbackAspect.Factuality, _ => QaFeedbackAspect.Completeness,
    };
    private static string F(double v) => double.IsFinite(v) ? v.ToString("R", CultureInfo.InvariantCulture) : "";
    private static void WriteText(string path, string text) => AtomicFile.WriteAllBytes(path, Encoding.UTF8.GetBytes(text));

    /// <summary>Runs (or resumes) the sweep and writes every output; returns the run records in grid order.</summary>
    public IReadOnlyList<SweepRunRecord> Run(CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(_o.OutputDirectory);
        Directory.CreateDirectory(Out("history"));
        Directory.CreateDirectory(Out("runs"));
        var manifestPath = Out("manifest.json");
        if (File.Exists(manifestPath))
        {
            using var old = JsonDocument.Parse(File.ReadAllText(manifestPath));
            var oldHash = old.RootElement.GetProperty("config_hash").GetString();
            if (oldHash != _hash)
                throw new InvalidOperationException($"Output directory '{_o.OutputDirectory}' holds a sweep with config hash {oldHash}; this sweep's is {_hash}. Use another directory or delete it.");
        }
        var started = DateTime.UtcNow;
        WriteManifest(started, null);
        var clock = Stopwatch.StartNew();

        // 1. SFT policy and the feedback / PPO / test questions. A resumed sweep reads the SFT policy and the selected
        // RMs back from cache/ (written once they were complete), so it repeats no training.
        var gen = new QaFeedbackGenerator(_task);
        var cfg = new CausalLmConfig(_tok.VocabularySize, DModel: _o.PolicyDModel, Layers: _o.PolicyLayers, Heads: 4, FfnDim: 4 * _o.PolicyDModel, MaxPositions: 64);
        torch.manual_seed(_o.DataSeed);
        using var sft = new CausalLm(cfg);
        var ppoQ = gen.Questions(_o.PpoQuestions, _o.DataSeed + 3);
        var testQ = gen.Questions(_o.TestQuestions, _o.DataSeed + 4);
        var rms = new Dictionary<string, List<SweepRewardModel>>();
        string sftMetrics;
        try
        {
            var cache = SweepCache.TryLoad(Out("cache"), sft, _o.Tasks);
            if (cache != null)
            {
                foreach (var rm in cache.Value.RewardModels) (rms.TryGetValue(rm.Task, out var l) ? l : rms[rm.Task] = new()).Add(rm);
                sftMetrics = cache.Value.SftMetrics;
                Say($"cache: SFT policy and {cache.Value.RewardModels.Count} RMs read from {Out("cache")}");
            }
            else
            {
                var sftData = gen.SftData(_o.SftQuestions, _o.DataSeed).Select(x => (x.Example.PolicyPrompt, x.Answer.Text)).ToArray();
                var losses = PolicySft.Train(sft, _tok, sftData, new PolicySftOptions { Epochs = _o.SftEpochs, LearningRate = 1e-3, Seed = _o.DataSeed });
                sft.eval();
                Say($"SFT: {_o.SftQuestions} answers × {_o.SftEpochs} epochs, loss {losses[^1]:F3} ({clock.Elapsed.TotalSeconds:F0} s)");
                var trainQ = gen.Questions(_o.FeedbackTrainQuestions, _o.DataSeed + 1);
                var devQ = gen.Questions(_o.FeedbackDevQuestions, _o.DataSeed + 2);
                var trainAns = Sample(sft, trainQ, _o.DataSeed + 5);
                var devAns = Sample(sft, devQ, _o.DataSeed + 6);
                sftMetrics = Evaluate(sft, testQ, null, QaFeedbackAspect.Relevance).Oracle.ToString();
                Say($"SFT greedy on {testQ.Count} test questions: {sftMetrics}; feedback: {trainAns.Count} train / {devAns.Count} dev answers ({clock.Elapsed.TotalSeconds:F0} s)");

                // 2. Reward models per task.
                var ckptRows = new StringBuilder("task,rm_id,knob,step,data_fraction,extra_noise,dev_accuracy,dev_f1_error_class,dev_pairs,score_mean,score_std,selected,is_eval_rm\n");
                var biasRows = new StringBuilder("task,rm_id,knob,dev_accuracy,predicted_error_rate,true_error_rate,reward_mean_on_sft_samples,reward_std_on_sft_samples,reward_sentences_corr,mean_sentences_sft_samples\n");
                for (int ti = 0; ti < _o.Tasks.Length; ti++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var t = _o.Tasks[ti];
                    rms[t] = TrainRewardModels(sft, t, ti, trainAns, devAns, ckptRows);
                    foreach (var rm in rms[t]) biasRows.AppendLine(Bias(rm, devAns));
                    Say($"{t}: RMs {string.Join(", ", rms[t].Select(r => $"{r.RmId} acc {r.Checkpoint.Accuracy:F3}"))} ({clock.Elapsed.TotalSeconds:F0} s)");
                }
                WriteText(Out("rm_checkpoints.csv"), ckptRows.ToString());
                WriteText(Out("rm_bias.csv"), biasRows.ToString());
                SweepCache.Save(Out("cache"), sft, rms.Values.SelectMany(v => v).ToArray(), sftMetrics);
            }
            WriteManifest(started, null, sftMetrics);

            // 3. The grid through mlContext.Sweeps(), one task after the other (each with its trials file, so the outputs
            // of finished tasks are written before the next task starts): one trial per (RM, seed); finished trials are skipped.
            var byKey = rms.Values.SelectMany(v => v).ToDictionary(r => $"{r.Task}/{r.RmId}");
            var records = new List<SweepRunRecord>();
            var rmLists = rms.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<SweepRewardModel>)kv.Value);
            foreach (var task in _o.Tasks)
            {
                var keys = rms[task].Select(r => $"{r.Task}/{r.RmId}").ToArray();
                var space = _ml.Sweeps().SearchSpace<SweepRunSetting>().Choice(o => o.Run, keys).Choice(o => o.ConfigHash, _hash);
                var sweep = _ml.Sweeps().Create(() => new SweepRunSetting(), space, _ml.Sweeps().GridSearch(), (s, ctx, ct) =>
                {
                    var rm = byKey[s.Run];
                    var eval = rms[rm.Task].Single(r => r.IsEvalRm);
                    var rec = RunOne(sft, cfg, rm, eval, ctx.Seed, ppoQ, testQ, ct);
                    Say($"run {ctx.TrialIndex + 1}/{ctx.TotalTrials} {s.Run} seed {ctx.Seed}: proxy max {rec.ProxyPerfMax:F3}, oracle max {rec.OraclePerfMax:F3}, KL {rec.KlFinal:F2}, {rec.WallSeconds:F0} s");
                    return rec.OraclePerfMax;
                });
                sweep.SeedsPerTrial = _o.Seeds;
                sweep.BaseSeed = _o.BaseSeed;
                sweep.MetricName = "oracle_perf_max";
                sweep.ResultsPath = Out($"trials_{_hash}_{task}.csv");
                var result = sweep.Run(cancellationToken);
                int resumed = result.Trials.Count(tr => tr.Resumed);
                if (resumed > 0) Say($"resumed: {resumed} of {result.Trials.Count} runs of {task} were already done");

                // 4. Outputs from the per-run records of the finished tasks, in grid order.
                foreach (var key in keys)
                    for (int r = 0; r < _o.Seeds; r++)
                        records.Add(SweepRunRecord.FromJson(File.ReadAllText(RunPath(byKey[key], _o.BaseSeed + r))));
                WriteText(Out("runs.csv"), SweepRunRecord.CsvHeader + "\n" + string.Join("", records.Select(r => r.ToCsv() + "\n")));
                new RewardModelSweepReport(_o, _hash, records, rmLists).WriteAll(_o.OutputDirectory);
                Say($"{task}: {keys.Length * _o.Seeds} runs done; runs.csv, summary.json, curves and PNGs written ({clock.Elapsed.TotalSeconds:F0} s)");
            }
            WriteManifest(started, DateTime.UtcNow, sftMetrics, clock.Elapsed.TotalSeconds);
            Say($"done: {records.Count} runs, outputs in {_o.OutputDirectory} ({clock.Elapsed.TotalSeconds:F0} s)");
            return records;
        }
        finally
        {
            foreach (var list in rms.Values) foreach (var rm in list) rm.Dispose();
        }
    }

    private string RunPath(SweepRewardModel rm, int seed) => Out("runs", $"{rm.Task}_{rm.RmId}_s{seed}.json");

    private void WriteManifest(DateTime start, DateTime? end, string? sftMetrics = null, double? seconds = null)
    {
        var asm = typeof(RewardModelSweep).Assembly.GetName();
        var m = new Dictionary<string, object?>
        {
            ["config_hash"] = _hash,
            ["profile"] = _o.Profile,
            ["config"] = JsonSerializer.Deserialize<JsonElement>(_o.ToJson()),
            ["seeds"] = Enumerable.Range(_o.BaseSeed, _o.Seeds).ToArray(),
            ["data_seed"] = _o.DataSeed,
            ["start_utc"] = start.ToString("o"),
            ["end_utc"] = end?.ToString("o"),
            ["wall_seconds"] = seconds,
            ["sft_test_metrics"] = sftMetrics,
            ["host_cores"] = Environment.ProcessorCount,
            ["torch_threads"] = torch.get_num_threads(),
            ["versions"] = new Dictionary<string, string?>
            {
                ["dotnet"] = Environment.Version.ToString(),
                ["mlnetextensions"] = asm.Version?.ToString(),
                ["microsoft.ml"] = typeof(MLContext).Assembly.GetName().Version?.ToString(),
                ["torchsharp"] = typeof(torch).Assembly.GetName().Version?.ToString(),
                ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
            },
        };
        WriteText(Out("manifest.json"), JsonSerializer.Serialize(m, new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>AnswersPerQuestion sampled answers per question from the SFT policy (note §7.1 feedback data).</summary>
    private IReadOnlyList<(QaExample Example, QaAnswer Answer)> Sample(CausalLm policy, IReadOnlyList<QaExample> questions, int seed)
    {
        var rows = questions.SelectMany(q => Enumerable.Repeat(q, _o.AnswersPerQuestion)).ToArray();
        var g = PolicyGenerator.Generate(policy, _tok, rows.Select(q => q.PolicyPrompt).ToArray(),
            new GenerationOptions { Greedy = false, TopK = 20, Temperature = 0.7, MaxNewTokens = 28, Seed = seed }, batchSize: 256);
        return rows.Select((q, i) => (q, QaFeedbackText.Parse(g[i].Text, _task, g[i].Stopped))).ToArray();
    }

    private TextRewardModelOptions RmOptions(QaFeedbackAspect aspect, int seed, IDataView dev, int validateEvery, CausalLm sft) => new()
    {
        PretrainedTrunk = _o.RmFromSftTrunk ? sft.Transformer : null,
        DModel = _o.PolicyDModel, Layers = _o.PolicyLayers, Heads = 4, FfnDim = 4 * _o.PolicyDModel,
        Kind = aspect == QaFeedbackAspect.Completeness ? TextRewardModelKind.Preference : TextRewardModelKind.FineGrained,
        Tokenizer = _tok,
        // Relevance reads question + answer only (--ignore_context); factuality and completeness read the passage too.
        IgnoreContext = aspect == QaFeedbackAspect.Relevance,
        MaxEpochs = _o.RmEpochs, LearningRate = _o.RmLearningRate, BatchSize = _o.RmBatchSize, Seed = seed,
        WeightDecay = aspect == QaFeedbackAspect.Relevance ? 0.01 : 0.001,
        ValidationSet = dev, ValidateEveryNSteps = validateEvery, KeepCheckpointWeights = true, RestoreBestWeights = false,
        Bidirectional = _o.RmBidirectional, LogEveryNSteps = 0, BatchNormRecalibrationBatches = 0,
    };

    private List<SweepRewardModel> TrainRewardModels(CausalLm sft, string task, int taskIndex, IReadOnlyList<(QaExample Example, QaAnswer Answer)> trainAns,
        IReadOnlyList<(QaExample Example, QaAnswer Answer)> devAns, StringBuilder ckptRows)
    {
        var aspect = Aspect(task);
        int seed = _o.DataSeed + 100 * (taskIndex + 1);
        IDataView trainView, devView;
        Func<double, double, IDataView> knobView;
        if (aspect == QaFeedbackAspect.Completeness)
        {
            IReadOnlyList<PreferencePair> Pairs(IReadOnlyList<(QaExample Example, QaAnswer Answer)> a, int s) => QaFeedbackData.PreferencePairs(
                a.Chunk(_o.AnswersPerQuestion).Select(c => (c[0].Example, (IReadOnlyList<QaAnswer>)c.Select(x => x.Answer).ToArray())), _o.AnnotationNoise, s);
            var train = Pairs(trainAns, seed + 1);
            trainView = QaFeedbackRows.Load(_ml, QaFeedbackRows.Preferences(train));
            devView = QaFeedbackRows.Load(_ml, QaFeedbackRows.Preferences(Pairs(devAns, seed + 2)));
            knobView = (f, rho) => QaFeedbackRows.Load(_ml, QaFeedbackRows.Preferences(rho > 0 ? QaFeedbackData.AddNoise(train, rho, seed + 3) : QaFeedbackData.Fraction(train, f, seed + 4)));
        }
        else
        {
            var train = QaFeedbackData.LabelSentences(aspect, trainAns, _o.AnnotationNoise, seed + 1);
            trainView = QaFeedbackRows.Load(_ml, QaFeedbackRows.FineGrained(train));
            devView = QaFeedbackRows.Load(_ml, QaFeedbackRows.FineGrained(QaFeedbackData.LabelSentences(aspect, devAns, _o.AnnotationNoise, seed + 2)));
            knobView = (f, rho) => QaFeedbackRows.Load(_ml, QaFeedbackRows.FineGrained(rho > 0 ? QaFeedbackData.AddNoise(train, rho, seed + 3) : QaFeedbackData.Fraction(train, f, seed + 4)));
        }

        // The checkpoint chain (knob "step").
        var trainer = _ml.Rlhf().RewardModel(RmOptions(aspect, seed, devView, _o.RmCheckpointEvery, sft));
        var model = trainer.Fit(trainView);
        var arch = model.Network.Architecture;
        var serving = model.Serving with { ScoreMean = 0, ScoreStd = 1 };
        model.Dispose();
        var history = trainer.LastCheckpointHistory;
        var weights = trainer.LastCheckpointWeights;
        var picked = CheckpointSelection.EvenlyInAccuracy(history.Select(h => h.Step).ToArray(), history.Select(h => h.Accuracy).ToArray(), _o.CheckpointsPerTask);
        int evalIndex = Enumerable.Range(0, history.Count).OrderByDescending(i => history[i].Accuracy).ThenBy(i => history[i].Step).First();
        var list = new List<SweepRewardModel>();
        foreach (var i in picked)
        {
            var c = history[i];
            list.Add(new SweepRewardModel
            {
                Task = task, RmId = $"step{c.Step}", Knob = "step", Checkpoint = c, Architecture = arch, Serving = serving,
                Weights = weights[c.Step], IsEvalRm = i == evalIndex,
            });
        }
        foreach (var (step, w) in weights)
            if (!picked.Any(i => history[i].Step == step)) foreach (var t in w.Values) t.Dispose();

        // Knob RMs: converged (last epoch) under less data or more label noise.
        foreach (var (knob, f, rho) in _o.DataFractions.Select(f => ("fraction", f, 0.0)).Concat(_o.ExtraNoises.Select(r => ("noise", 1.0, r))))
        {
            var kt = _ml.Rlhf().RewardModel(RmOptions(aspect, seed, devView, 0, sft));
            kt.Fit(knobView(f, rho)).Dispose();
            var last = kt.LastCheckpointHistory[^1];
            foreach (var (step, w) in kt.LastCheckpointWeights) if (step != last.Step) foreach (var t in w.Values) t.Dispose();
            list.Add(new SweepRewardModel
            {
                Task = task, RmId = knob == "fraction" ? $"frac{f.ToString(CultureInfo.InvariantCulture)}" : $"noise{rho.ToString(CultureInfo.InvariantCulture)}",
                Knob = knob, DataFraction = f, ExtraNoise = rho, Checkpoint = last, Architecture = arch, Serving = serving, Weights = kt.LastCheckpointWeights[last.Step],
            });
        }

        // Preference RMs: μ, σ of each RM's scores over the feedback-train answers.
        if (aspect == QaFeedbackAspect.Completeness)
        {
            var rows = trainAns.Select(a => (a.Example.QuestionText, a.Example.PassageText, a.Answer.Text)).ToArray();
            foreach (var rm in list)
            {
                var s = rm.Scorer(_tok).RawScores(rows);
                double mean = s.Average(v => (double)v), sd = Math.Sqrt(s.Sum(v => (v - mean) * (v - mean)) / Math.Max(1, s.Length - 1));
                rm.Serving = rm.Serving with { ScoreMean = mean, ScoreStd = sd > 1e-8 ? sd : 1 };
            }
        }

        bool pref = aspect == QaFeedbackAspect.Completeness;
        string Row(string rmId, string knob, double f, double rho, RewardModelCheckpoint c, SweepRewardModel? rm, bool selected, bool isEval) =>
            $"{task},{rmId},{knob},{c.Step},{F(f)},{F(rho)},{F(c.Accuracy)},{(pref ? "" : F(c.F1ErrorClass))},{(pref ? c.DevItems.ToString(CultureInfo.InvariantCulture) : "")}," +
            $"{(pref && rm != null ? F(rm.Serving.ScoreMean) : "")},{(pref && rm != null ? F(rm.Serving.ScoreStd) : "")},{(selected ? "true" : "false")},{(isEval ? "true" : "false")}";
        foreach (var c in history)
        {
            var rm = list.FirstOrDefault(r => r.Knob == "step" && r.Checkpoint.Step == c.Step);
            ckptRows.AppendLine(Row($"step{c.Step}", "step", 1, 0, c, rm, rm != null, rm?.IsEvalRm == true));
        }
        foreach (var rm in list.Where(r => r.Knob != "step"))
            ckptRows.AppendLine(Row(rm.RmId, rm.Knob, rm.DataFraction, rm.ExtraNoise, rm.Checkpoint, rm, true, false));
        return list;
    }

    /// <summary>An rm_bias.csv row: the RM's verdicts and rewards on the SFT samples of the dev questions against the oracle.</summary>
    private string Bias(SweepRewardModel rm, IReadOnlyList<(QaExample Example, QaAnswer Answer)> samples)
    {
        var aspect = Aspect(rm.Task);
        var scorer = rm.Scorer(_tok);
        var rows = samples.Select(a => (a.Example.QuestionText, a.Example.PassageText, a.Answer.Text)).ToArray();
        var rewards = new double[rows.Length];
        double predErr = double.NaN, trueErr;
        if (aspect == QaFeedbackAspect.Completeness)
        {
            var s = scorer.Scores(rows);
            for (int i = 0; i < rows.Length; i++) rewards[i] = RewardPlacement.CompletenessScale * s[i];
            trueErr = 1 - samples.Average(a => QaFeedbackOracle.Completeness(a.Example, a.Answer));
        }
        else
        {
            var p = scorer.SentenceScores(rows);
            long seps = 0, predicted = 0, wrong = 0, labelled = 0;
            double w = QaFeedbackRewards.Weight(aspect);
            for (int i = 0; i < rows.Length; i++)
            {
                var oracle = QaFeedbackOracle.Labels(aspect, samples[i].Example, samples[i].Answer);
                for (int j = 0; j < p[i].Length; j++)
                {
                    seps++;
                    bool ok = p[i][j] >= 0.5f;
                    if (!ok) predicted++;
                    rewards[i] += ok ? w : -w;
                }
                labelled += oracle.Length; wrong += oracle.Count(x => !x);
            }
            predErr = seps == 0 ? double.NaN : predicted / (double)seps;
            trueErr = labelled == 0 ? double.NaN : wrong / (double)labelled;
        }
        double mean = rewards.Average(), sd = Math.Sqrt(rewards.Sum(v => (v - mean) * (v - mean)) / Math.Max(1, rewards.Length - 1));
        var sentences = samples.Select(a => (double)a.Answer.Sentences.Count).ToArray();
        return $"{rm.Task},{rm.RmId},{rm.Knob},{F(rm.Checkpoint.Accuracy)},{F(predErr)},{F(trueErr)},{F(mean)},{F(sd)},{F(Pearson(rewards, sentences))},{F(sentences.Average())}";
    }

    internal static double Pearson(double[] x, double[] y)
    {
        double mx = x.Average(), my = y.Average(), sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < x.Length; i++) { sxy += (x[i] - mx) * (y[i] - my); sxx += (x[i] - mx) * (x[i] - mx); syy += (y[i] - my) * (y[i] - my); }
        return sxx == 0 || syy == 0 ? double.NaN : sxy / Math.Sqrt(sxx * syy);
    }

    private sealed record EvalPoint(double Proxy, QaPolicyMetrics Oracle, double Seconds, long Tokens);

    /// <summary>Greedy answers to the test questions: the eval RM's metric (proxy) and the oracle metrics.</summary>
    private EvalPoint Evaluate(CausalLm policy, IReadOnlyList<QaExample> testQ, SweepRewardModel? evalRm, QaFeedbackAspect aspect)
    {
        var sw = Stopwatch.StartNew();
        var responses = PolicyGenerator.Generate(policy, _tok, testQ.Select(q => q.PolicyPrompt).ToArray(), new GenerationOptions { Greedy = true, MaxNewTokens = 28 }, batchSize: 128);
        double secs = sw.Elapsed.TotalSeconds;
        var oracle = QaFeedbackEvaluation.Metrics(testQ, responses, _task);
        double proxy = double.NaN;
        if (evalRm != null)
        {
            var rows = testQ.Select((q, i) => (q.QuestionText, q.PassageText, responses[i].Text)).ToArray();
            var scorer = evalRm.Scorer(_tok);
            if (aspect == QaFeedbackAspect.Completeness) proxy = scorer.Scores(rows).Average(v => (double)v);
            else
            {
                // Pooled over sentences, as aggregate_metrics: share of generated sentences the eval RM calls "no error".
                var p = scorer.SentenceScores(rows);
                long all = p.Sum(x => (long)x.Length), ok = p.Sum(x => (long)x.Count(v => v >= 0.5f));
                proxy = all == 0 ? 0 : ok / (double)all;
            }
        }
        return new EvalPoint(proxy, oracle, secs, responses.Sum(r => (long)r.Tokens.Length));
    }

    private SweepRunRecord RunOne(CausalLm sft, CausalLmConfig cfg, SweepRewardModel rm, SweepRewardModel evalRm, int seed,
        IReadOnlyList<QaExample> ppoQ, IReadOnlyList<QaExample> testQ, CancellationToken ct)
    {
        var path = RunPath(rm, seed);
        if (File.Exists(path)) return SweepRunRecord.FromJson(File.ReadAllText(path)); // finished before the trials file got its row
        var wall = Stopwatch.StartNew();
        var aspect = Aspect(rm.Task);
        using var policy = new CausalLm(cfg);
        using var reference = new CausalLm(cfg);
        policy.load_state_dict(sft.state_dict());
        reference.load_state_dict(sft.state_dict());
        torch.manual_seed(seed * 1000L + 17);
        using var value = new CausalScoreModel(cfg, headHidden: _o.PolicyDModel);
        value.LoadTrunkFrom(sft);
        using var ppo = new PpoTrainer(policy, reference, value, _tok, new PpoOptions
        {
            Steps = _o.PpoSteps, Seed = seed, KlCoef = _o.KlCoef, PromptsPerRollout = _o.PromptsPerRollout, SamplesPerPrompt = _o.SamplesPerPrompt,
            MiniBatchSize = _o.MiniBatchSize, LearningRate = _o.PpoLearningRate, WarmupUpdates = _o.PpoWarmupUpdates,
        });
        var reward = QaFeedbackRewards.FromScorer(rm.Scorer(_tok), aspect, ppoQ);
        var prompts = ppoQ.Select(q => q.PolicyPrompt).ToArray();
        var rng = new Random(seed);
        var hist = new StringBuilder("step,raw_reward,raw_reward_var,kl,penalized_reward,policy_loss,value_loss,lr,clip_fraction,response_length,seconds,generation_seconds," +
            "eval_proxy,eval_oracle,eval_relevance,eval_factuality,eval_completeness,eval_length,eval_sentences,eval_malformed\n");
        var evals = new List<(int Step, EvalPoint P)>();
        string EvalCols(EvalPoint e) => $"{F(e.Proxy)},{F(e.Oracle.Of(aspect))},{F(e.Oracle.RelevanceRatio)},{F(e.Oracle.FactualityRatio)},{F(e.Oracle.Completeness)},{F(e.Oracle.MeanLength)},{F(e.Oracle.MeanSentences)},{F(e.Oracle.MalformedShare)}";
        var e0 = Evaluate(policy, testQ, evalRm, aspect);
        hist.AppendLine($"0,,,,,,,,,,,,{EvalCols(e0)}");
        var steps = new List<PpoStepRecord>();
        double genSeconds = e0.Seconds; long genTokens = e0.Tokens, trainedTokens = 0;
        for (int s = 0; s < _o.PpoSteps && !ppo.EarlyStopped; s++)
        {
            ct.ThrowIfCancellationRequested();
            var idx = Enumerable.Range(0, _o.PromptsPerRollout).Select(_ => rng.Next(prompts.Length)).ToArray();
            var r = ppo.Step(s, prompts, idx, reward);
            steps.Add(r);
            genTokens += r.GeneratedTokens; trainedTokens += r.TrainedTokens;
            string line = $"{s + 1},{F(r.RawReward)},{F(r.RawRewardVar)},{F(r.Kl)},{F(r.PenalizedReward)},{F(r.PolicyLoss)},{F(r.ValueLoss)},{F(r.LearningRate)},{F(r.ClipFraction)},{F(r.MeanResponseLength)},{F(r.Seconds)},{F(r.GenerationSeconds)}";
            bool last = s + 1 == _o.PpoSteps || ppo.EarlyStopped;
            if ((s + 1) % _o.EvalEvery == 0 || last)
            {
                var e = Evaluate(policy, testQ, evalRm, aspect);
                genSeconds += e.Seconds; genTokens += e.Tokens;
                evals.Add((s + 1, e));
                hist.AppendLine(line + "," + EvalCols(e));
            }
            else hist.AppendLine(line + ",,,,,,,,");
        }
        // perf over the evaluation points after PPO started (step 0 is the shared SFT policy).
        (double Max, double Final, double Last3, int StepOfMax) Perf(Func<EvalPoint, double> m)
        {
            var v = evals.Select(x => m(x.P)).ToArray();
            int arg = Array.IndexOf(v, v.Max());
            return (v.Max(), v[^1], v.Skip(Math.Max(0, v.Length - 3)).Average(), evals[arg].Step);
        }
        var proxy = Perf(e => e.Proxy);
        var oracle = Perf(e => e.Oracle.Of(aspect));
        var fin = evals[^1].P.Oracle;
        var rec = new SweepRunRecord
        {
            Task = rm.Task, RmId = rm.RmId, Knob = rm.Knob, DataFraction = rm.DataFraction, ExtraNoise = rm.ExtraNoise, RmAccuracy = rm.Checkpoint.Accuracy,
            Seed = seed, PolicySize = _o.PolicySize, KlCoef = _o.KlCoef, StepsDone = steps.Count, EarlyStopped = ppo.EarlyStopped,
            ProxyPerfMax = proxy.Max, ProxyPerfFinal = proxy.Final, ProxyPerfLast3 = proxy.Last3, ProxyStepOfMax = proxy.StepOfMax,
            OraclePerfMax = oracle.Max, OraclePerfFinal = oracle.Final, OraclePerfLast3 = oracle.Last3, OracleStepOfMax = oracle.StepOfMax,
            TrainRewardMean = steps.Average(x => x.RawReward), TrainRewardVar = steps.Average(x => x.RawRewardVar),
            KlMean = steps.Average(x => x.Kl), KlFinal = steps[^1].Kl, LenFinal = fin.MeanLength, NSentencesFinal = fin.MeanSentences,
            WallSeconds = wall.Elapsed.TotalSeconds, GenerationSeconds = genSeconds, RolloutSeconds = steps.Sum(x => x.GenerationSeconds), PpoStepSeconds = steps.Sum(x => x.Seconds), GeneratedTokens = genTokens, TrainedTokens = trainedTokens, ConfigHash = _hash,
        };
        WriteText(Out("history", $"{rm.Task}_{rm.RmId}_s{seed}.csv"), hist.ToString());
        WriteText(path, rec.ToJson());
        return rec;
    }
}

using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Estimators.Rlhf;
using MLNetExtensions.Tests.Infrastructure;
using MLNetExtensions.Transforms.Excp;
using MLNetExtensions.Transforms.Rlhf.QaFeedback;
using MLNetExtensions.Transforms.Rlhf.RewardModels;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Rlhf;

/// <summary>A relevance reward model trained once on the synthetic task (noisy SFT-generator answers, η = 0.15).</summary>
public sealed class RelevanceRewardModelFixture : IDisposable
{
    public RelevanceRewardModelFixture()
    {
        torch.set_num_threads(1);
        Ml = new MLContext(seed: 1).RegisterMLNetExtensions();
        var gen = new QaFeedbackGenerator();
        Tokenizer = QaFeedbackText.CreateTokenizer(gen.Options);
        var train = QaFeedbackData.LabelSentences(QaFeedbackAspect.Relevance, gen.SftData(640, seed: 11), 0.15, seed: 12);
        var dev = QaFeedbackData.LabelSentences(QaFeedbackAspect.Relevance, gen.SftData(200, seed: 13), 0.15, seed: 14);
        TestAnswers = gen.SftData(40, seed: 15);
        Test = QaFeedbackRows.Load(Ml, QaFeedbackRows.Responses(TestAnswers));
        CheckpointDir = Directory.CreateTempSubdirectory("rm-relevance").FullName;
        Trainer = Ml.Rlhf().RewardModel(new TextRewardModelOptions
        {
            Tokenizer = Tokenizer, IgnoreContext = true, MaxEpochs = 4, LearningRate = 1e-3, Seed = 3,
            ValidationSet = QaFeedbackRows.Load(Ml, QaFeedbackRows.FineGrained(dev)), ValidateEveryNSteps = 10,
            CheckpointDirectory = CheckpointDir, CheckpointEveryNSteps = 10, CheckpointFormat = new ExcpOptions(),
        });
        var sw = Stopwatch.StartNew();
        Model = Trainer.Fit(QaFeedbackRows.Load(Ml, QaFeedbackRows.FineGrained(train)));
        FitSeconds = sw.Elapsed.TotalSeconds;
    }

    public MLContext Ml { get; }
    public global::MLNetExtensions.Core.Text.TextTokenizer Tokenizer { get; }
    public TextRewardModelTrainer Trainer { get; }
    public TextRewardModelTransformer Model { get; }
    public IReadOnlyList<(QaExample Example, QaAnswer Answer)> TestAnswers { get; }
    public IDataView Test { get; }
    public string CheckpointDir { get; }
    public double FitSeconds { get; }

    public void Dispose()
    {
        Model.Dispose();
        try { Directory.Delete(CheckpointDir, true); } catch (IOException) { }
    }
}

public class TextRewardModelTests : IClassFixture<RelevanceRewardModelFixture>
{
    private readonly RelevanceRewardModelFixture _f;
    public TextRewardModelTests(RelevanceRewardModelFixture f) => _f = f;

    [Fact]
    public void PairwiseLossIsMinusLogSigmoidOfTheMargin()
    {
        using var scope = torch.NewDisposeScope();
        var sw = torch.tensor(new[] { 2f, 0f, -1f }).requires_grad_(true);
        var sl = torch.tensor(new[] { 1f, 0f, 1f });
        var loss = RewardModelLosses.Pairwise(sw, sl);
        // −log σ(1), −log σ(0), −log σ(−2) = 0.313262, 0.693147, 2.126928 → mean 1.044446
        Assert.Equal(1.044446, loss.item<float>(), 5);
        loss.backward();
        // d/ds_w of mean −log σ(Δ) = −(1 − σ(Δ))/3 = −σ(−Δ)/3
        var g = sw.grad!.data<float>().ToArray();
        var expected = new[] { 1.0, 0.0, -2.0 }.Select(d => -1.0 / (1 + Math.Exp(d)) / 3).ToArray();
        for (int i = 0; i < 3; i++) Assert.Equal(expected[i], g[i], 5);
        // Large margins stay finite (logsigmoid, not log(sigmoid)).
        Assert.True(float.IsFinite(RewardModelLosses.Pairwise(torch.tensor(new[] { -200f }), torch.tensor(new[] { 200f })).item<float>()));
    }

    [Fact]
    public void SeparatorLossCountsSeparatorsOnlyAndMetricsMatchHandCounts()
    {
        using var scope = torch.NewDisposeScope();
        var logits = torch.tensor(new float[] { 0, 0, 2, 0, 0, 3, 0, 0 }, new long[] { 1, 4, 2 });
        var targets = torch.tensor(new long[] { 1, 0, 1, 1 }, new long[] { 1, 4 });
        var sep = torch.tensor(new[] { false, true, false, true }, new long[] { 1, 4 });
        // Separators 1 (logits 2,0; target 0) and 3 (0,0; target 1): mean(−log softmax) = (log(1+e^−2) + log 2)/2.
        double expected = (Math.Log(1 + Math.Exp(-2)) + Math.Log(2)) / 2;
        Assert.Equal(expected, RewardModelLosses.SeparatorCrossEntropy(logits, targets, sep).item<float>(), 5);

        var m = new SeparatorMetrics().Add(true, true).Add(true, false).Add(false, false).Add(false, true).Add(true, true);
        Assert.Equal(3.0 / 5, m.Accuracy, 12);
        Assert.Equal(2.0 * 2 / (2 * 2 + 1 + 1), m.F1ErrorClass, 12);
        Assert.Equal(3.0 / 5, m.PredictedErrorRate, 12);
        Assert.Equal(0, new SeparatorMetrics().Add(false, false).F1ErrorClass);
    }

    [Fact]
    public void FineGrainedModelLearnsRelevanceAndRecordsCheckpoints()
    {
        var h = _f.Trainer.LastCheckpointHistory;
        Assert.Equal(0, h[0].Step);
        Assert.Equal(h.Select(c => c.Step).Distinct().Count(), h.Count);
        Assert.True(h.Count >= 8, $"{h.Count} dev evaluations");
        Assert.All(h, c => Assert.Equal(h[0].DevItems, c.DevItems));
        Assert.True(h[0].DevItems > 200, $"{h[0].DevItems} dev separators");
        double best = h.Max(c => c.Accuracy);
        // Measured: 0.563 at step 0 → about 0.66 within 80 steps, the share of the majority class under η = 0.15
        // (0.71·0.85 + 0.29·0.15 ≈ 0.65); learning the cross-position rule (asked, not repeated) needs far longer
        // training (docs/reward-model-sweep.md). Here: it must beat the untrained network clearly and stay below the noise ceiling.
        Assert.True(best > h[0].Accuracy + 0.05 && best <= 0.90, $"history {string.Join(", ", h.Select(c => $"{c.Step}:{c.Accuracy:F3}"))}");
        Assert.All(h, c => Assert.InRange(c.F1ErrorClass, 0, 1));
        // The ExCP chain holds the checkpoints of the validation steps.
        Assert.True(Directory.EnumerateFiles(_f.CheckpointDir, "*", SearchOption.AllDirectories).Any(), "no ExCP checkpoint written");
    }

    private static (float[] Score, float[][] Sentences) Read(IDataView scored) =>
        (scored.GetColumn<float>("Score").ToArray(), scored.GetColumn<VBuffer<float>>("SentenceScores").Select(v => v.DenseValues().ToArray()).ToArray());

    [Fact]
    public void ScoresEverySentenceAndRoundTripsThroughSaveLoadAndPredictionEngine()
    {
        var (score, sentences) = Read(_f.Model.Transform(_f.Test));
        for (int i = 0; i < sentences.Length; i++)
        {
            Assert.Equal(_f.TestAnswers[i].Answer.Sentences.Count, sentences[i].Length);
            Assert.All(sentences[i], p => Assert.InRange(p, 0f, 1f));
            Assert.Equal(sentences[i].Count(p => p >= 0.5f) / (float)sentences[i].Length, score[i], 6);
        }
        var engine = _f.Ml.Model.CreatePredictionEngine<ResponseRow, ScoredRow>(_f.Model);
        var row = QaFeedbackRows.Responses(_f.TestAnswers.Take(1)).Single();
        var one = engine.Predict(row);
        Assert.Equal(score[0], one.Score, 5);
        Assert.Equal(sentences[0], one.SentenceScores, new FloatTolerance(1e-5f));

        var dir = Directory.CreateTempSubdirectory("rm-save");
        try
        {
            var zip = Path.Combine(dir.FullName, "rm.zip");
            _f.Ml.Model.Save(_f.Model, _f.Test.Schema, zip);
            var ml2 = new MLContext(seed: 2).RegisterMLNetExtensions();
            var loaded = ml2.Model.Load(zip, out _);
            var (score2, sentences2) = Read(loaded.Transform(_f.Test));
            Assert.Equal(score, score2);
            for (int i = 0; i < sentences.Length; i++) Assert.Equal(sentences[i], sentences2[i], new FloatTolerance(1e-6f));
            // Without Response the model says which column it needs.
            var noResponse = ml2.Data.LoadFromEnumerable(new[] { new { Prompt = "Q: E1 A2 A3" } });
            Assert.Contains("Response", Record.Exception(() => loaded.Transform(noResponse))!.Message);
            (loaded as IDisposable)?.Dispose();

            // Fresh process: the probe loads the zip and scores the same rows from a binary IDV file.
            var idv = Path.Combine(dir.FullName, "rows.idv");
            using (var fs = File.Create(idv)) _f.Ml.Data.SaveAsBinary(_f.Test, fs, keepHidden: false);
            var outFile = Path.Combine(dir.FullName, "scores.bin");
            var psi = new ProcessStartInfo("dotnet", $"\"{LoadProbe.Path()}\" \"{zip}\" 5 SentenceScores \"{outFile}\" binary:{idv}") { RedirectStandardError = true, RedirectStandardOutput = true };
            using var p = Process.Start(psi)!;
            var err = p.StandardError.ReadToEndAsync();
            p.StandardOutput.ReadToEnd();
            Assert.True(p.WaitForExit(120_000), "probe timed out");
            Assert.True(p.ExitCode == 0, $"probe failed: {err.Result}");
            var bytes = File.ReadAllBytes(outFile);
            var expected = sentences.Take(5).SelectMany(v => v).ToArray();
            Assert.Equal(expected.Length * 4, bytes.Length);
            for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], BitConverter.ToSingle(bytes, 4 * i), 4);
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void FineGrainedTrainerLearnsASeparatorLocalRuleToNearPerfectAccuracy()
    {
        // A label that the separator's own sentence decides (value index ≥ 16 = error): the trainer, the separator
        // alignment of labels and the dev metric must reach ~1.0 on it.
        var gen = new QaFeedbackGenerator();
        IEnumerable<FineGrainedFeedbackRow> Rows(int n, int seed) => QaFeedbackRows.FineGrained(gen.SftData(n, seed).Select(x =>
            new LabeledAnswer(x.Example, x.Answer, x.Answer.Sentences.Select(s => s.Value < 16).ToArray(), x.Answer.Sentences.Select(s => s.Value < 16).ToArray())));
        var t = _f.Ml.Rlhf().RewardModel(new TextRewardModelOptions
        {
            Tokenizer = _f.Tokenizer, MaxEpochs = 5, LearningRate = 2e-3, Seed = 5,
            ValidationSet = QaFeedbackRows.Load(_f.Ml, Rows(100, 2)), ValidateEveryNSteps = 20,
        });
        using var m = t.Fit(QaFeedbackRows.Load(_f.Ml, Rows(640, 1)));
        var h = t.LastCheckpointHistory;
        Assert.True(h[^1].Accuracy >= 0.95, $"history {string.Join(", ", h.Select(c => $"{c.Step}:{c.Accuracy:F3}"))}");
        Assert.True(h[^1].F1ErrorClass >= 0.95, $"F1 {h[^1].F1ErrorClass:F3}");
        Assert.InRange(h[^1].PredictedErrorRate, 0.35, 0.65);
    }

    [Fact]
    public void BadInputNamesTheOptionOrColumn()
    {
        Assert.Contains("Tokenizer", Assert.Throws<ArgumentException>(() => _f.Ml.Rlhf().RewardModel(new TextRewardModelOptions())).Message);
        var rows = QaFeedbackRows.Load(_f.Ml, QaFeedbackRows.Responses(_f.TestAnswers.Take(4)));
        var noLabels = Record.Exception(() => _f.Ml.Rlhf().FineGrainedRewardModel(_f.Tokenizer, maxEpochs: 1).Fit(rows));
        Assert.Contains("Labels", noLabels!.Message);
        // The factuality model (context read) needs the Context column.
        var noContext = _f.Ml.Data.LoadFromEnumerable(new[] { new { Prompt = "Q: E1 A2 A3", Response = "E1 A2 V3 <sep>", Labels = new float[] { 0 } } });
        Assert.Contains("Context", Record.Exception(() => _f.Ml.Rlhf().FineGrainedRewardModel(_f.Tokenizer, ignoreContext: false, maxEpochs: 1).Fit(noContext))!.Message);
        // One label per separator.
        var mismatch = QaFeedbackRows.Load(_f.Ml, new[] { new FineGrainedFeedbackRow { Prompt = "Q: E1 A2 A3", Context = "", Response = "E1 A2 V3 <sep> E1 A3 V3 <sep>", Labels = new float[] { 1 } } });
        var e = Record.Exception(() => _f.Ml.Rlhf().FineGrainedRewardModel(_f.Tokenizer, maxEpochs: 1).Fit(mismatch));
        Assert.Contains("separator", e!.Message);
    }

    [Fact]
    public void PreferenceModelLearnsCompletenessAndNormalisesScores()
    {
        var ml = _f.Ml;
        var gen = new QaFeedbackGenerator();
        var rng = new Random(21);
        IReadOnlyList<PreferencePair> Pairs(int n, int seed) => QaFeedbackData.PreferencePairs(
            gen.Questions(n, seed).Select(q => (q, (IReadOnlyList<QaAnswer>)Enumerable.Range(0, 4).Select(_ => gen.NoisyAnswer(q, rng)).ToArray())), 0.15, seed + 1);
        var train = Pairs(160, 30);
        var dev = Pairs(60, 40);
        var trainer = ml.Rlhf().RewardModel(new TextRewardModelOptions
        {
            Kind = TextRewardModelKind.Preference, Tokenizer = _f.Tokenizer, MaxEpochs = 3, LearningRate = 1e-3, Seed = 4,
            ValidationSet = QaFeedbackRows.Load(ml, QaFeedbackRows.Preferences(dev)), ValidateEveryNSteps = 10,
        });
        using var model = trainer.Fit(QaFeedbackRows.Load(ml, QaFeedbackRows.Preferences(train)));
        var h = trainer.LastCheckpointHistory;
        Assert.Equal(0, h[0].Step);
        Assert.All(h, c => Assert.True(double.IsNaN(c.F1ErrorClass)));
        double best = h.Max(c => c.Accuracy);
        Assert.True(best >= 0.65, $"best dev pair accuracy {best:F3}; history {string.Join(", ", h.Select(c => $"{c.Step}:{c.Accuracy:F3}"))}");
        // μ, σ come from the training answers: their normalised scores have mean ≈ 0 and s.d. ≈ 1.
        var answers = train.SelectMany(p => new[] { (p.Example, p.Chosen), (p.Example, p.Rejected) });
        var scores = model.Transform(QaFeedbackRows.Load(ml, QaFeedbackRows.Responses(answers))).GetColumn<float>("Score").ToArray();
        double mean = scores.Average(v => (double)v), sd = Math.Sqrt(scores.Sum(v => (v - mean) * (v - mean)) / (scores.Length - 1));
        Assert.InRange(mean, -1e-3, 1e-3);
        Assert.InRange(sd, 0.999, 1.001);
        Assert.True(model.Serving.ScoreStd > 0 && model.Serving.ScoreStd != 1);
    }

    [Fact]
    public void ScorerGivesTheTransformersScores()
    {
        var (score, sentences) = Read(_f.Model.Transform(_f.Test));
        var scorer = new TextRewardScorer(_f.Model.Network, _f.Tokenizer, _f.Model.Serving, batchSize: 7);
        var rows = _f.TestAnswers.Select(a => (a.Example.QuestionText, a.Example.PassageText, a.Answer.Text)).ToArray();
        var direct = scorer.SentenceScores(rows);
        for (int i = 0; i < rows.Length; i++) Assert.Equal(sentences[i], direct[i], new FloatTolerance(1e-5f));
        Assert.Throws<InvalidOperationException>(() => scorer.RawScores(rows));
    }

    [Fact]
    public void BidirectionalTrunkLetsLaterTokensReachEarlierSeparators()
    {
        using var scope = torch.NewDisposeScope();
        var causalArch = new TextRewardModelArchitecture(TextRewardModelKind.FineGrained, _f.Tokenizer.VocabularySize);
        torch.manual_seed(1);
        using var causal = new TextRewardNetwork(causalArch);
        using var bidi = new TextRewardNetwork(causalArch with { Bidirectional = true });
        bidi.load_state_dict(causal.state_dict());
        causal.eval(); bidi.eval();
        var serving = new TextRewardModelServing(TextRewardModelKind.FineGrained, "Prompt", null, "Response", 16, 24, 32);
        var rows = new[] { ("Q: E1 A2 A3", "", "E1 A2 V3 <sep> E1 A3 V4 <sep>"), ("Q: E1 A2 A3", "", "E1 A2 V3 <sep> E1 A5 V9 <sep>") };
        float First(TextRewardNetwork n, int row) => new TextRewardScorer(n, _f.Tokenizer, serving).SentenceScores(rows)[row][0];
        // The first separator's verdict: causal — the second sentence cannot change it; bidirectional — it does.
        Assert.Equal(First(causal, 0), First(causal, 1), 6);
        Assert.NotEqual(First(bidi, 0), First(bidi, 1));
    }

    [Fact]
    public void PretrainedTrunkInitialisesStepZeroAndKeptWeightsFollowTheHistory()
    {
        var gen = new QaFeedbackGenerator();
        var rows = QaFeedbackRows.Load(_f.Ml, QaFeedbackRows.FineGrained(QaFeedbackData.LabelSentences(QaFeedbackAspect.Relevance, gen.SftData(64, seed: 5), 0.15, seed: 6)));
        torch.manual_seed(9);
        using var lm = new MLNetExtensions.Transforms.Language.CausalLm(new MLNetExtensions.Transforms.Language.CausalLmConfig(_f.Tokenizer.VocabularySize, 64, 2, 4, 128, MaxPositions: 64));
        var t = _f.Ml.Rlhf().RewardModel(new TextRewardModelOptions
        {
            Tokenizer = _f.Tokenizer, MaxEpochs = 1, Seed = 2, ValidationSet = rows, ValidateEveryNSteps = 1, KeepCheckpointWeights = true, PretrainedTrunk = lm.Transformer,
        });
        using var m = t.Fit(rows);
        Assert.Equal(t.LastCheckpointHistory.Select(c => c.Step), t.LastCheckpointWeights.Keys.OrderBy(k => k));
        var step0 = t.LastCheckpointWeights[0];
        var trunk = lm.Transformer.state_dict();
        Assert.True(step0["transformer.wte.weight"].allclose(trunk["wte.weight"], 0, 0));
        Assert.True(step0["transformer.h.1.mlp.fc2.weight"].allclose(trunk["h.1.mlp.fc2.weight"], 0, 0));
        // 48 RM positions (prompt 16 + response 32): the first 48 rows of the LM's 64.
        Assert.True(step0["transformer.wpe.weight"].allclose(trunk["wpe.weight"].narrow(0, 0, 48), 0, 0));
        Assert.False(t.LastCheckpointWeights[1]["transformer.wte.weight"].allclose(trunk["wte.weight"], 0, 0)); // trained on
        foreach (var w in t.LastCheckpointWeights.Values) foreach (var x in w.Values) x.Dispose();
        // A trunk of another width names the option.
        using var wide = new MLNetExtensions.Transforms.Language.CausalLm(new MLNetExtensions.Transforms.Language.CausalLmConfig(_f.Tokenizer.VocabularySize, 32, 2, 4, 128));
        var e = Record.Exception(() => _f.Ml.Rlhf().RewardModel(new TextRewardModelOptions { Tokenizer = _f.Tokenizer, MaxEpochs = 1, PretrainedTrunk = wide.Transformer }).Fit(rows));
        Assert.Contains("PretrainedTrunk", e!.Message);
    }

    public sealed class ScoredRow
    {
        public float Score { get; set; }
        public float[] SentenceScores { get; set; } = Array.Empty<float>();
    }

    private sealed class FloatTolerance : IEqualityComparer<float>
    {
        private readonly float _t;
        public FloatTolerance(float t) => _t = t;
        public bool Equals(float x, float y) => Math.Abs(x - y) <= _t;
        public int GetHashCode(float obj) => 0;
    }
}

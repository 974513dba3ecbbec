using Microsoft.ML;
using MLNetExtensions.Estimators.Rlhf;
using MLNetExtensions.Transforms.Rlhf.QaFeedback;
using Xunit;
using Xunit.Abstractions;

namespace MLNetExtensions.Tests.Rlhf;

public class RewardModelExperiment
{
    private readonly ITestOutputHelper _out;
    public RewardModelExperiment(ITestOutputHelper o) => _out = o;

    [Fact]
    public void Sweep()
    {
        if (Environment.GetEnvironmentVariable("RMS_EXP") != "1") return;
        TorchSharp.torch.set_num_threads(1);
        var ml = new MLContext(seed: 1).RegisterMLNetExtensions();
        var gen = new QaFeedbackGenerator();
        var tok = QaFeedbackText.CreateTokenizer(gen.Options);
        foreach (var (eta, lr, d, layers, wd) in new[] { (0.0, 1e-3, 64, 2, 0.01) })
        {
            IReadOnlyList<LabeledAnswer> Easy(IReadOnlyList<LabeledAnswer> x) => x.Select(a => a with { NoisyLabels = a.Answer.Sentences.Select(s => s.Value >= 16).ToArray() }).ToArray();
            var train = Easy(QaFeedbackData.LabelSentences(QaFeedbackAspect.Relevance, gen.SftData(2400, 11), eta, 12));
            var dev = Easy(QaFeedbackData.LabelSentences(QaFeedbackAspect.Relevance, gen.SftData(200, 13), eta, 14));
            var t = ml.Rlhf().RewardModel(new TextRewardModelOptions
            {
                Tokenizer = tok, MaxEpochs = 2, LearningRate = lr, WeightDecay = wd, DModel = d, Layers = layers, Seed = 3, WarmupSteps = 50,
                ValidationSet = QaFeedbackRows.Load(ml, QaFeedbackRows.FineGrained(dev)), ValidateEveryNSteps = 75,
                Progress = new Progress<MLNetExtensions.Core.Training.TrainingProgress>(p => { }),
            });
            var sw = System.Diagnostics.Stopwatch.StartNew();
            using var m = t.Fit(QaFeedbackRows.Load(ml, QaFeedbackRows.FineGrained(train)));
            _out.WriteLine($"eta {eta} lr {lr} d {d} L {layers} wd {wd}: {sw.Elapsed.TotalSeconds:F0}s loss {t.LastTrainingSummary!.LastTrainLoss:F3} " + string.Join(", ", t.LastCheckpointHistory.Select(c => $"{c.Step}:{c.Accuracy:F3}")));
        }
    }
}

using System.Diagnostics;
using System.Text;
using MLNetExtensions.Estimators.Rlhf;
using MLNetExtensions.Tests.Infrastructure;
using MLNetExtensions.Transforms.Rlhf.QaFeedback;
using MLNetExtensions.Transforms.Rlhf.RewardModels;
using Microsoft.ML;
using TorchSharp;
using Xunit;

namespace MLNetExtensions.Tests.Rlhf;

/// <summary>
/// Diagnostic (MLNETEXT_RMLEARN=1): dev accuracy against step of one reward model on generator answers, with the
/// trunk, learning rate, label rule and noise taken from environment variables; writes the history to
/// MLNETEXT_RMS_OUT (default: temp). Used to find why the relevance RM stayed at the majority class.
/// </summary>
public class RewardModelLearningCheck
{
    private static string Env(string name, string fallback) => Environment.GetEnvironmentVariable(name) ?? fallback;

    [OptInFact("MLNETEXT_RMLEARN")]
    public void DevAccuracyAgainstStep()
    {
        torch.set_num_threads(1);
        var aspect = Enum.Parse<QaFeedbackAspect>(Env("RMS_ASPECT", "Relevance"), true);
        bool bidi = Env("RMS_BIDI", "0") == "1";
        double lr = double.Parse(Env("RMS_LR", "1e-3"), System.Globalization.CultureInfo.InvariantCulture);
        int epochs = int.Parse(Env("RMS_EPOCHS", "10")), n = int.Parse(Env("RMS_NTRAIN", "2000")), every = int.Parse(Env("RMS_EVERY", "50"));
        double noise = double.Parse(Env("RMS_NOISE", "0.15"), System.Globalization.CultureInfo.InvariantCulture);
        int layers = int.Parse(Env("RMS_LAYERS", "2"));
        string rule = Env("RMS_RULE", "oracle");
        var ml = new MLContext(seed: 1).RegisterMLNetExtensions();
        var gen = new QaFeedbackGenerator();
        var tok = QaFeedbackText.CreateTokenizer(gen.Options);
        MLNetExtensions.Transforms.Language.CausalLm? sft = null;
        int ffn = 128;
        if (Env("RMS_PRETRAINED", "0") == "1")
        {
            // The SFT policy (noisy-generator answers) as the pretrained trunk.
            var cfg = new MLNetExtensions.Transforms.Language.CausalLmConfig(tok.VocabularySize, DModel: 64, Layers: layers, Heads: 4, FfnDim: 256, MaxPositions: 96);
            torch.manual_seed(42);
            sft = new MLNetExtensions.Transforms.Language.CausalLm(cfg);
            var data = gen.SftData(2000, seed: 1).Select(x => (x.Example.PolicyPrompt, x.Answer.Text)).ToArray();
            MLNetExtensions.Transforms.Rlhf.Policy.PolicySft.Train(sft, tok, data, new MLNetExtensions.Transforms.Rlhf.Policy.PolicySftOptions { Epochs = int.Parse(Env("RMS_SFT_EPOCHS", "8")), LearningRate = 1e-3, Seed = 42 });
            ffn = 256;
        }
        var o = new TextRewardModelOptions
        {
            PretrainedTrunk = sft?.Transformer, FfnDim = ffn,
            Tokenizer = tok, MaxEpochs = epochs, LearningRate = lr, Seed = 3, Bidirectional = bidi, Layers = layers, ValidateEveryNSteps = every,
            LogEveryNSteps = 0,
        };
        IDataView train, dev;
        if (aspect == QaFeedbackAspect.Completeness)
        {
            var rng = new Random(21);
            IReadOnlyList<PreferencePair> Pairs(int q, int seed) => QaFeedbackData.PreferencePairs(
                gen.Questions(q, seed).Select(x => (x, (IReadOnlyList<QaAnswer>)Enumerable.Range(0, 4).Select(_ => gen.NoisyAnswer(x, rng)).ToArray())), noise, seed + 1);
            o.Kind = TextRewardModelKind.Preference;
            train = QaFeedbackRows.Load(ml, QaFeedbackRows.Preferences(Pairs(n / 4, 30)));
            dev = QaFeedbackRows.Load(ml, QaFeedbackRows.Preferences(Pairs(300, 40)));
        }
        else
        {
            o.IgnoreContext = aspect == QaFeedbackAspect.Relevance;
            IReadOnlyList<LabeledAnswer> Labels(int count, int seed)
            {
                var d = QaFeedbackData.LabelSentences(aspect, gen.SftData(count, seed), noise, seed + 1);
                if (rule == "oracle") return d;
                // Sub-rules of relevance: "asked" only, or "not repeated" only (noise-free).
                return d.Select(x =>
                {
                    var seen = new HashSet<int>();
                    var lab = x.Answer.Sentences.Select(s => rule == "asked" ? x.Example.Asked.Contains(s.Attribute) : seen.Add(s.Attribute)).ToArray();
                    return x with { OracleLabels = lab, NoisyLabels = lab };
                }).ToArray();
            }
            train = QaFeedbackRows.Load(ml, QaFeedbackRows.FineGrained(Labels(n, 11)));
            dev = QaFeedbackRows.Load(ml, QaFeedbackRows.FineGrained(Labels(300, 13)));
        }
        o.ValidationSet = dev;
        var trainer = ml.Rlhf().RewardModel(o);
        var sw = Stopwatch.StartNew();
        using var model = trainer.Fit(train);
        var h = trainer.LastCheckpointHistory;
        var sb = new StringBuilder($"# {aspect} bidi={bidi} lr={lr} epochs={epochs} n={n} noise={noise} layers={layers} rule={rule} pretrained={sft != null} {sw.Elapsed.TotalSeconds:F1}s\nstep,accuracy,f1,predicted_error_rate\n");
        foreach (var c in h) sb.AppendLine($"{c.Step},{c.Accuracy:F4},{c.F1ErrorClass:F4},{c.PredictedErrorRate:F4}");
        File.AppendAllText(Env("MLNETEXT_RMS_OUT", Path.Combine(Path.GetTempPath(), "rm-learn.csv")), sb.ToString());
        Assert.True(h.Count > 1);
    }
}

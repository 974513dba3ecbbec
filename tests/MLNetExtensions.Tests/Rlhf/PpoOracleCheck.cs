using MLNetExtensions.Tests.Infrastructure;
using System.Diagnostics;
using System.Text;
using MLNetExtensions.Transforms.Language;
using MLNetExtensions.Transforms.Rlhf.Policy;
using MLNetExtensions.Transforms.Rlhf.Ppo;
using MLNetExtensions.Transforms.Rlhf.QaFeedback;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;

namespace MLNetExtensions.Tests.Rlhf;

/// <summary>
/// "PPO works at all" (MLNETEXT_LONG=1): with the noise-free oracle as reward, each aspect's oracle metric must rise
/// clearly above the SFT policy's while KL stays bounded. Writes a CSV to MLNETEXT_RMS_OUT (default: temp).
/// </summary>
public class PpoOracleCheck
{
    private readonly ITestOutputHelper _out;
    public PpoOracleCheck(ITestOutputHelper o) => _out = o;

    [OptInFact("MLNETEXT_LONG")]
    public void OracleRewardImprovesEveryAspect()
    {
        int steps = int.Parse(Environment.GetEnvironmentVariable("MLNETEXT_RMS_STEPS") ?? "60");
        string outPath = Environment.GetEnvironmentVariable("MLNETEXT_RMS_OUT") ?? Path.Combine(Path.GetTempPath(), "ppo-oracle.csv");
        torch.set_num_threads(1);
        var task = new QaFeedbackTaskOptions();
        var tok = QaFeedbackText.CreateTokenizer(task);
        var gen = new QaFeedbackGenerator(task);
        var sft = gen.SftData(2000, seed: 1).Select(x => (x.Example.PolicyPrompt, x.Answer.Text)).ToArray();
        var trainQ = gen.Questions(2000, seed: 3);
        var testQ = gen.Questions(200, seed: 4);
        var cfg = new CausalLmConfig(tok.VocabularySize, DModel: 64, Layers: 2, Heads: 4, FfnDim: 256, MaxPositions: 64);
        torch.manual_seed(42);
        var sftPolicy = new CausalLm(cfg);
        var sw = Stopwatch.StartNew();
        var log = new StringBuilder("aspect,step,oracle_metric,relevance,factuality,completeness,len,sentences,malformed,train_kl,raw_reward,seconds\n");
        var greedy = new GenerationOptions { Greedy = true, MaxNewTokens = 28 };
        QaPolicyMetrics Eval(CausalLm p) => QaFeedbackEvaluation.Metrics(testQ, PolicyGenerator.Generate(p, tok, testQ.Select(q => q.PolicyPrompt).ToArray(), greedy), task);
        int sftEpochs = int.Parse(Environment.GetEnvironmentVariable("MLNETEXT_RMS_SFT_EPOCHS") ?? "24");
        for (int e = 0; e < sftEpochs; e += 4)
        {
            var losses = PolicySft.Train(sftPolicy, tok, sft, new PolicySftOptions { Epochs = Math.Min(4, sftEpochs - e), LearningRate = 1e-3, Seed = 42 + e });
            var m = Eval(sftPolicy);
            log.AppendLine($"SFT,{e + Math.Min(4, sftEpochs - e)},{losses[^1]:F4},{m.RelevanceRatio:F4},{m.FactualityRatio:F4},{m.Completeness:F4},{m.MeanLength:F2},{m.MeanSentences:F2},{m.MalformedShare:F3},0,0,{sw.Elapsed.TotalSeconds:F1}");
            File.WriteAllText(outPath, log.ToString());
        }
        var sftMetrics = Eval(sftPolicy);
        _out.WriteLine($"SFT metrics {sftMetrics}");
        // Completeness normalisation: μ, σ of the oracle completeness over SFT samples.
        var samples = PolicyGenerator.Generate(sftPolicy, tok, trainQ.Take(256).Select(q => q.PolicyPrompt).ToArray(), new GenerationOptions { Greedy = false, TopK = 20, Temperature = 0.7, MaxNewTokens = 28, Seed = 9 });
        var comps = samples.Select((s, i) => QaFeedbackOracle.Completeness(trainQ[i], QaFeedbackText.Parse(s.Text, task, s.Stopped))).ToArray();
        double cm = comps.Average(), cs = Math.Sqrt(comps.Sum(c => (c - cm) * (c - cm)) / (comps.Length - 1));
        foreach (var aspect in new[] { QaFeedbackAspect.Relevance, QaFeedbackAspect.Factuality, QaFeedbackAspect.Completeness })
        {
            var policy = new CausalLm(cfg); policy.load_state_dict(sftPolicy.state_dict());
            var reference = new CausalLm(cfg); reference.load_state_dict(sftPolicy.state_dict());
            torch.manual_seed(43);
            var value = new CausalScoreModel(cfg, headHidden: 64); value.LoadTrunkFrom(sftPolicy);
            using var ppo = new PpoTrainer(policy, reference, value, tok, new PpoOptions { Steps = steps, Seed = 42 });
            var reward = QaFeedbackRewards.Oracle(aspect, trainQ, task, cm, cs);
            var prompts = trainQ.Select(q => q.PolicyPrompt).ToArray();
            var rng = new Random(42);
            var first = Eval(policy);
            log.AppendLine($"{aspect},0,{first.Of(aspect):F4},{first.RelevanceRatio:F4},{first.FactualityRatio:F4},{first.Completeness:F4},{first.MeanLength:F2},{first.MeanSentences:F2},{first.MalformedShare:F3},0,0,0");
            var run = Stopwatch.StartNew();
            double genTok = 0, trainTok = 0, secs = 0;
            for (int s = 0; s < steps && !ppo.EarlyStopped; s++)
            {
                var idx = Enumerable.Range(0, 16).Select(_ => rng.Next(prompts.Length)).ToArray();
                var r = ppo.Step(s, prompts, idx, reward);
                genTok += r.GeneratedTokens; trainTok += r.TrainedTokens; secs += r.Seconds;
                if ((s + 1) % 20 == 0 || s + 1 == steps)
                {
                    var m = Eval(policy);
                    log.AppendLine($"{aspect},{s + 1},{m.Of(aspect):F4},{m.RelevanceRatio:F4},{m.FactualityRatio:F4},{m.Completeness:F4},{m.MeanLength:F2},{m.MeanSentences:F2},{m.MalformedShare:F3},{r.Kl:F3},{r.RawReward:F4},{run.Elapsed.TotalSeconds:F1}");
                    _out.WriteLine($"{aspect} step {s + 1}: {m} kl {r.Kl:F3} raw {r.RawReward:F3} {run.Elapsed.TotalSeconds:F0}s");
                    File.WriteAllText(outPath, log.ToString());
                }
            }
            log.AppendLine($"# {aspect}: {steps} steps in {run.Elapsed.TotalSeconds:F1}s; tokens per PPO step-second: generated+trained {(genTok + trainTok) / secs:F0}");
            File.WriteAllText(outPath, log.ToString());
        }
    }
}

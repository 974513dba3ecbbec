using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MLNetExtensions.Estimators.Rlhf.Sweep;

/// <summary>
/// Settings of a <see cref="RewardModelSweep"/> (note §7): the synthetic task sizes, the reward-model training and
/// checkpoint selection, the PPO settings and the grid (tasks × K checkpoints × seeds, plus optional knob RMs).
/// Build one with <see cref="ForProfile"/> (<c>smoke</c>, <c>standard</c>, <c>full</c>) and adjust. Every field except
/// <see cref="OutputDirectory"/> enters the config hash; a changed setting starts a new results file.
/// </summary>
public sealed class RewardModelSweepOptions
{
    /// <summary>Profile name (informational). Default "custom".</summary>
    public string Profile { get; set; } = "custom";
    /// <summary>Run directory for every output (required).</summary>
    [JsonIgnore] public string OutputDirectory { get; set; } = "";
    /// <summary>Tasks (aspects): relevance, factuality, completeness.</summary>
    public string[] Tasks { get; set; } = { "relevance", "factuality", "completeness" };
    /// <summary>RM checkpoints per task, evenly spaced in dev accuracy (step 0 and the maximum always kept). Default 8.</summary>
    public int CheckpointsPerTask { get; set; } = 8;
    /// <summary>PPO seeds per (task, RM): BaseSeed, BaseSeed + 1, … Default 2.</summary>
    public int Seeds { get; set; } = 2;
    /// <summary>First PPO seed. Default 1.</summary>
    public int BaseSeed { get; set; } = 1;
    /// <summary>Seed of the task data, the SFT policy and the RMs. Default 7.</summary>
    public int DataSeed { get; set; } = 7;

    /// <summary>SFT (noisy-generator) questions. Default 2000.</summary>
    public int SftQuestions { get; set; } = 2000;
    /// <summary>SFT epochs (the note's 3 are too few at this scale: values are copied only after ~8). Default 12.</summary>
    public int SftEpochs { get; set; } = 12;
    /// <summary>Feedback questions (4 SFT samples each) for RM training. Default 2000.</summary>
    public int FeedbackTrainQuestions { get; set; } = 2000;
    /// <summary>Feedback dev questions. Default 300.</summary>
    public int FeedbackDevQuestions { get; set; } = 300;
    /// <summary>SFT samples per feedback question. Default 4.</summary>
    public int AnswersPerQuestion { get; set; } = 4;
    /// <summary>Annotation noise η on train and dev labels and preferences. Default 0.15.</summary>
    public double AnnotationNoise { get; set; } = 0.15;
    /// <summary>Prompts PPO samples from. Default 2000.</summary>
    public int PpoQuestions { get; set; } = 2000;
    /// <summary>Held-out test questions decoded greedily at every evaluation. Default 300.</summary>
    public int TestQuestions { get; set; } = 300;

    /// <summary>RM epochs over the feedback data. Default 6.</summary>
    public int RmEpochs { get; set; } = 6;
    /// <summary>RM learning rate (constant, AdamW). Default 3e-4 (note §7.2: deliberately small).</summary>
    public double RmLearningRate { get; set; } = 3e-4;
    /// <summary>RM batch size. Default 32.</summary>
    public int RmBatchSize { get; set; } = 32;
    /// <summary>Dev evaluation (and kept weights) every N RM steps (the paper's ckpt_every). Default 10.</summary>
    public int RmCheckpointEvery { get; set; } = 10;
    /// <summary>Bidirectional RM trunk (the paper's Longformer is an encoder). Default true.</summary>
    public bool RmBidirectional { get; set; } = true;
    /// <summary>
    /// Initialise every RM's trunk from the SFT policy's (a pretrained LM, as the paper's RMs start from Longformer-base
    /// and InstructGPT's from the SFT model). Measured: no gain on the relevance RM within ~380 steps (docs), so off by default.
    /// </summary>
    public bool RmFromSftTrunk { get; set; }
    /// <summary>Knob RMs trained to the end on this share of the feedback data (values &lt; 1; tagged knob=fraction). Default none.</summary>
    public double[] DataFractions { get; set; } = Array.Empty<double>();
    /// <summary>Knob RMs trained to the end with this extra label-flip rate ρ on train (tagged knob=noise). Default none.</summary>
    public double[] ExtraNoises { get; set; } = Array.Empty<double>();

    /// <summary>Policy width. Default 64.</summary>
    public int PolicyDModel { get; set; } = 64;
    /// <summary>Policy layers. Default 2.</summary>
    public int PolicyLayers { get; set; } = 2;
    /// <summary>Policy size tag in the outputs ("tiny" for d = 64). Default "tiny".</summary>
    public string PolicySize { get; set; } = "tiny";
    /// <summary>PPO steps per run. Default 200.</summary>
    public int PpoSteps { get; set; } = 200;
    /// <summary>Greedy evaluation on the test questions every N PPO steps (and at step 0). Default 25.</summary>
    public int EvalEvery { get; set; } = 25;
    /// <summary>Prompts per rollout. Default 16.</summary>
    public int PromptsPerRollout { get; set; } = 16;
    /// <summary>Samples per prompt. Default 4.</summary>
    public int SamplesPerPrompt { get; set; } = 4;
    /// <summary>PPO minibatch. Default 16.</summary>
    public int MiniBatchSize { get; set; } = 16;
    /// <summary>KL coefficient β. Default 0.3.</summary>
    public double KlCoef { get; set; } = 0.3;
    /// <summary>PPO learning rate (Adam). Default 1e-4.</summary>
    public double PpoLearningRate { get; set; } = 1e-4;
    /// <summary>PPO warm-up updates. Default 40.</summary>
    public int PpoWarmupUpdates { get; set; } = 40;
    /// <summary>Bootstrap resamples of the summary CIs. Default 2000.</summary>
    public int Bootstrap { get; set; } = 2000;

    /// <summary>The note's profiles: <c>smoke</c> (CI: 1 task × 3 RMs × 1 seed, tiny data), <c>standard</c>, <c>full</c>.</summary>
    public static RewardModelSweepOptions ForProfile(string profile) => profile switch
    {
        "smoke" => new RewardModelSweepOptions
        {
            Profile = "smoke", Tasks = new[] { "relevance" }, CheckpointsPerTask = 3, Seeds = 1, SftQuestions = 300, SftEpochs = 6,
            FeedbackTrainQuestions = 80, FeedbackDevQuestions = 30, PpoQuestions = 200, TestQuestions = 32, RmEpochs = 2, RmLearningRate = 1e-3,
            RmCheckpointEvery = 5, PpoSteps = 20, EvalEvery = 10, PromptsPerRollout = 4, SamplesPerPrompt = 2, MiniBatchSize = 8, PpoWarmupUpdates = 8, Bootstrap = 500,
        },
        "standard" => new RewardModelSweepOptions { Profile = "standard" },
        // What the loaded shared 2-core machine of session 6 could finish in about 35 minutes: all three tasks with K = 3
        // RMs × 2 seeds, 24 PPO steps of 8 × 4 rollouts, and smaller data (docs/reward-model-sweep.md §6: a reduction,
        // not the note's standard profile).
        "standard-reduced" => new RewardModelSweepOptions
        {
            Profile = "standard-reduced", CheckpointsPerTask = 3, Seeds = 2, SftQuestions = 2000, SftEpochs = 8, FeedbackTrainQuestions = 300,
            FeedbackDevQuestions = 100, PpoQuestions = 1000, TestQuestions = 80, RmEpochs = 4, RmLearningRate = 1e-3, RmCheckpointEvery = 5,
            PpoSteps = 24, EvalEvery = 8, PromptsPerRollout = 8, SamplesPerPrompt = 4, PpoWarmupUpdates = 16, Bootstrap = 2000,
        },
        "full" => new RewardModelSweepOptions
        {
            Profile = "full", CheckpointsPerTask = 10, Seeds = 3, PpoSteps = 300, DataFractions = new[] { 0.1, 0.25, 0.5 }, ExtraNoises = new[] { 0.1, 0.2, 0.3 },
        },
        _ => throw new ArgumentException($"Unknown sweep profile '{profile}'; expected smoke, standard, standard-reduced or full.", nameof(profile)),
    };

    /// <summary>Throws naming the first invalid setting.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(OutputDirectory)) throw new ArgumentException("RewardModelSweepOptions.OutputDirectory is required (the run directory).", nameof(OutputDirectory));
        if (Tasks.Length == 0) throw new ArgumentException("RewardModelSweepOptions.Tasks is empty.", nameof(Tasks));
        foreach (var t in Tasks)
            if (t is not ("relevance" or "factuality" or "completeness"))
                throw new ArgumentException($"RewardModelSweepOptions.Tasks: '{t}' is not relevance, factuality or completeness.", nameof(Tasks));
        if (Tasks.Distinct().Count() != Tasks.Length) throw new ArgumentException("RewardModelSweepOptions.Tasks lists a task twice.", nameof(Tasks));
        if (CheckpointsPerTask < 2) throw new ArgumentOutOfRangeException(nameof(CheckpointsPerTask), CheckpointsPerTask, "RewardModelSweepOptions.CheckpointsPerTask must be ≥ 2 (step 0 and the most accurate).");
        foreach (var (n, v) in new[] { (nameof(Seeds), Seeds), (nameof(SftQuestions), SftQuestions), (nameof(SftEpochs), SftEpochs), (nameof(FeedbackTrainQuestions), FeedbackTrainQuestions),
            (nameof(FeedbackDevQuestions), FeedbackDevQuestions), (nameof(AnswersPerQuestion), AnswersPerQuestion), (nameof(PpoQuestions), PpoQuestions), (nameof(TestQuestions), TestQuestions),
            (nameof(RmEpochs), RmEpochs), (nameof(RmBatchSize), RmBatchSize), (nameof(RmCheckpointEvery), RmCheckpointEvery), (nameof(PpoSteps), PpoSteps), (nameof(EvalEvery), EvalEvery),
            (nameof(PromptsPerRollout), PromptsPerRollout), (nameof(SamplesPerPrompt), SamplesPerPrompt), (nameof(MiniBatchSize), MiniBatchSize), (nameof(Bootstrap), Bootstrap) })
            if (v < 1) throw new ArgumentOutOfRangeException(n, v, $"RewardModelSweepOptions.{n} must be ≥ 1.");
        if (AnswersPerQuestion < 2) throw new ArgumentOutOfRangeException(nameof(AnswersPerQuestion), AnswersPerQuestion, "RewardModelSweepOptions.AnswersPerQuestion must be ≥ 2 (preference pairs).");
        if (!(AnnotationNoise >= 0 && AnnotationNoise < 0.5)) throw new ArgumentOutOfRangeException(nameof(AnnotationNoise), AnnotationNoise, "RewardModelSweepOptions.AnnotationNoise must be in [0, 0.5).");
        foreach (var f in DataFractions) if (!(f > 0 && f < 1)) throw new ArgumentOutOfRangeException(nameof(DataFractions), f, "RewardModelSweepOptions.DataFractions must lie in (0, 1).");
        foreach (var r in ExtraNoises) if (!(r > 0 && r < 0.5)) throw new ArgumentOutOfRangeException(nameof(ExtraNoises), r, "RewardModelSweepOptions.ExtraNoises must lie in (0, 0.5).");
        if (!(RmLearningRate > 0) || !(PpoLearningRate > 0) || !(KlCoef >= 0)) throw new ArgumentOutOfRangeException(nameof(RmLearningRate), "RewardModelSweepOptions: learning rates must be positive and KlCoef ≥ 0.");
    }

    /// <summary>The settings as JSON (the manifest's config).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true });

    /// <summary>First 12 hex digits of the SHA-256 of the JSON settings (the output directory excluded).</summary>
    public string ConfigHash() => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(this))))[..12].ToLowerInvariant();
}

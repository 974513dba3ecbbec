using System.Globalization;
using System.Text.Json;

namespace MLNetExtensions.Estimators.Rlhf.Sweep;

/// <summary>One PPO run of the sweep: a row of runs.csv (note §7.6 item 4, plus the knob tags and the config hash).</summary>
public sealed record SweepRunRecord
{
    public string Task { get; init; } = "";
    public string RmId { get; init; } = "";
    public string Knob { get; init; } = "step";
    public double DataFraction { get; init; } = 1;
    public double ExtraNoise { get; init; }
    public double RmAccuracy { get; init; }
    public int Seed { get; init; }
    public string PolicySize { get; init; } = "tiny";
    public double KlCoef { get; init; }
    public int StepsDone { get; init; }
    public bool EarlyStopped { get; init; }
    public double ProxyPerfMax { get; init; }
    public double ProxyPerfFinal { get; init; }
    public double ProxyPerfLast3 { get; init; }
    public int ProxyStepOfMax { get; init; }
    public double OraclePerfMax { get; init; }
    public double OraclePerfFinal { get; init; }
    public double OraclePerfLast3 { get; init; }
    public int OracleStepOfMax { get; init; }
    public double TrainRewardMean { get; init; }
    public double TrainRewardVar { get; init; }
    public double KlMean { get; init; }
    public double KlFinal { get; init; }
    public double LenFinal { get; init; }
    public double NSentencesFinal { get; init; }
    public double WallSeconds { get; init; }
    /// <summary>Greedy evaluation decoding time (all evaluation points).</summary>
    public double GenerationSeconds { get; init; }
    /// <summary>Rollout sampling time summed over PPO steps.</summary>
    public double RolloutSeconds { get; init; }
    /// <summary>PPO step time (rollout + rewards + log-probs + updates) summed over steps.</summary>
    public double PpoStepSeconds { get; init; }
    public long GeneratedTokens { get; init; }
    public long TrainedTokens { get; init; }
    public string ConfigHash { get; init; } = "";

    /// <summary>The runs.csv header.</summary>
    public const string CsvHeader = "task,rm_id,rm_accuracy,seed,policy_size,kl_coef,steps_done,early_stopped,proxy_perf_max,proxy_perf_final,proxy_perf_last3," +
        "proxy_step_of_max,oracle_perf_max,oracle_perf_final,oracle_perf_last3,oracle_step_of_max,train_reward_mean,train_reward_var,kl_mean,kl_final," +
        "len_final,n_sentences_final,wall_seconds,knob,data_fraction,extra_noise,generated_tokens,trained_tokens,config_hash";

    /// <summary>This record as a runs.csv line (invariant culture, round-trip doubles).</summary>
    public string ToCsv() => string.Join(",", new object[]
    {
        Task, RmId, D(RmAccuracy), Seed, PolicySize, D(KlCoef), StepsDone, EarlyStopped ? "true" : "false", D(ProxyPerfMax), D(ProxyPerfFinal), D(ProxyPerfLast3),
        ProxyStepOfMax, D(OraclePerfMax), D(OraclePerfFinal), D(OraclePerfLast3), OracleStepOfMax, D(TrainRewardMean), D(TrainRewardVar), D(KlMean), D(KlFinal),
        D(LenFinal), D(NSentencesFinal), D(WallSeconds), Knob, D(DataFraction), D(ExtraNoise), GeneratedTokens, TrainedTokens, ConfigHash,
    }.Select(v => Convert.ToString(v, CultureInfo.InvariantCulture)));

    internal static string D(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>JSON form (the per-run file a resumed sweep reads back).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    private static readonly JsonSerializerOptions Json = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    /// <summary>Reads <see cref="ToJson"/>.</summary>
    public static SweepRunRecord FromJson(string json) => JsonSerializer.Deserialize<SweepRunRecord>(json, Json) ?? throw new InvalidDataException("Empty sweep run record.");
}

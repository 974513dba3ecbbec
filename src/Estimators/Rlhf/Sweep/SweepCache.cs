using System.Text.Json;
using MLNetExtensions.Core.IO;
using MLNetExtensions.Transforms.Language;
using MLNetExtensions.Transforms.Rlhf.RewardModels;
using static TorchSharp.torch;

namespace MLNetExtensions.Estimators.Rlhf.Sweep;

/// <summary>
/// The trained SFT policy and the selected RMs of a sweep under <c>cache/</c> of its run directory, so a resumed sweep
/// repeats no training: <c>sft.bin</c>, one <c>rm_{task}_{rm_id}.bin</c> per RM (TorchSharp state dicts) and
/// <c>rms.json</c> (their metadata), written last: a cache without it is incomplete and ignored.
/// </summary>
internal static class SweepCache
{
    private sealed record Entry(string Task, string RmId, string Knob, double DataFraction, double ExtraNoise, RewardModelCheckpoint Checkpoint,
        TextRewardModelArchitecture Architecture, TextRewardModelServing Serving, bool IsEvalRm);
    private sealed record Index(string SftMetrics, Entry[] RewardModels);

    // Preference checkpoints carry NaN (no F1): written as named literals.
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    private static string RmFile(string dir, string task, string rmId) => Path.Combine(dir, $"rm_{task}_{rmId}.bin");

    private static void SaveModule(nn.Module m, string path)
    {
        var tmp = path + ".tmp";
        m.save(tmp);
        File.Move(tmp, path, overwrite: true);
    }

    public static void Save(string dir, CausalLm sft, IReadOnlyList<SweepRewardModel> rms, string sftMetrics)
    {
        Directory.CreateDirectory(dir);
        SaveModule(sft, Path.Combine(dir, "sft.bin"));
        foreach (var rm in rms)
        {
            using var net = new TextRewardNetwork(rm.Architecture);
            using (no_grad())
            {
                var sd = net.state_dict();
                foreach (var (k, v) in rm.Weights) sd[k].copy_(v);
            }
            SaveModule(net, RmFile(dir, rm.Task, rm.RmId));
        }
        var index = new Index(sftMetrics, rms.Select(r => new Entry(r.Task, r.RmId, r.Knob, r.DataFraction, r.ExtraNoise, r.Checkpoint, r.Architecture, r.Serving, r.IsEvalRm)).ToArray());
        AtomicFile.WriteAllBytes(Path.Combine(dir, "rms.json"), JsonSerializer.SerializeToUtf8Bytes(index, Json));
    }

    /// <summary>Loads the SFT weights into <paramref name="sft"/> and returns the RMs; null when there is no complete cache.</summary>
    public static (IReadOnlyList<SweepRewardModel> RewardModels, string SftMetrics)? TryLoad(string dir, CausalLm sft, IReadOnlyList<string> tasks)
    {
        var indexPath = Path.Combine(dir, "rms.json");
        if (!File.Exists(indexPath)) return null;
        var index = JsonSerializer.Deserialize<Index>(File.ReadAllBytes(indexPath), Json) ?? throw new InvalidDataException($"Sweep cache '{indexPath}' is empty.");
        if (!tasks.All(t => index.RewardModels.Any(e => e.Task == t)))
            throw new InvalidDataException($"Sweep cache '{indexPath}' lacks RMs of some task of this sweep ({string.Join(", ", tasks)}); delete the cache folder.");
        sft.load(Path.Combine(dir, "sft.bin"));
        sft.eval();
        var list = new List<SweepRewardModel>();
        foreach (var e in index.RewardModels)
        {
            using var net = new TextRewardNetwork(e.Architecture);
            net.load(RmFile(dir, e.Task, e.RmId));
            var weights = new Dictionary<string, Tensor>();
            foreach (var (k, v) in net.state_dict()) weights[k] = v.detach().clone().DetachFromDisposeScope();
            list.Add(new SweepRewardModel
            {
                Task = e.Task, RmId = e.RmId, Knob = e.Knob, DataFraction = e.DataFraction, ExtraNoise = e.ExtraNoise, Checkpoint = e.Checkpoint,
                Architecture = e.Architecture, Serving = e.Serving, Weights = weights, IsEvalRm = e.IsEvalRm,
            });
        }
        return (list, index.SftMetrics);
    }
}

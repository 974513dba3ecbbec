using System.Text.Json;
using MLNetExtensions.Core.IO;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Training;

/// <summary>Where a run stands, saved with each checkpoint.</summary>
/// <param name="Epoch">Last completed epoch, or the epoch in progress when <paramref name="BatchesInEpoch"/> &gt; 0.</param>
/// <param name="BatchesInEpoch">Batches of <paramref name="Epoch"/> already trained (a step-interval checkpoint); 0 = the epoch is complete.</param>
public sealed record TrainingCheckpointState(int Epoch, long Step, long? StepsPerEpoch, double? BestMetric, int? BestEpoch, int EpochsSinceBest, int BatchesInEpoch = 0);

/// <summary>What the training loop needs from a checkpoint store (uncompressed folder or ExCP chain).</summary>
public interface ITrainingCheckpointStore
{
    /// <summary>Saves the model, the state of every optimiser and progress; <paramref name="best"/> (when not null) replaces the best weights.</summary>
    void Save(nn.Module model, IReadOnlyList<OptimizerHelper> optimizers, TrainingCheckpointState state, Dictionary<string, Tensor>? best);
    /// <summary>Loads the latest checkpoint into <paramref name="model"/> and <paramref name="opt"/>; false when there is none.</summary>
    bool TryLoadLatest(nn.Module model, IReadOnlyList<OptimizerHelper> optimizers, out TrainingCheckpointState state);
    /// <summary>The best weights saved so far, or null.</summary>
    Dictionary<string, Tensor>? TryLoadBest();
}

/// <summary>
/// Periodic training checkpoints in a folder: <c>latest/</c> holds weights (safetensors), optimizer state and
/// progress JSON with a SHA-256 manifest. Each save writes a fresh folder and swaps it in with renames, so a crash
/// mid-write leaves the previous checkpoint intact; a corrupt checkpoint is detected by the manifest and reported.
/// </summary>
public sealed class TrainingCheckpointStore : ITrainingCheckpointStore
{
    private readonly string _dir;
    public TrainingCheckpointStore(string directory)
    {
        _dir = directory;
        Directory.CreateDirectory(directory);
        RemovedDebris = RemoveDebris();
    }

    /// <summary>Leftovers of killed saves removed when the store opened (folder names).</summary>
    public IReadOnlyList<string> RemovedDebris { get; }

    /// <summary>
    /// A save killed mid-way leaves <c>latest.tmp-&lt;pid&gt;/</c> (half written) and possibly a half-deleted
    /// <c>latest.old/</c>. At start: temp folders of processes no longer running go (a live process may be writing
    /// its own); <c>latest.old</c> goes when a complete <c>latest</c> exists, and is promoted to <c>latest</c> when
    /// it is the only complete checkpoint; half-written best-weight temp files go too.
    /// </summary>
    private List<string> RemoveDebris()
    {
        var removed = new List<string>();
        foreach (var tmp in Directory.GetDirectories(_dir, "latest.tmp-*"))
        {
            if (int.TryParse(Path.GetFileName(tmp)["latest.tmp-".Length..], out int pid) && pid != Environment.ProcessId && IsRunning(pid)) continue;
            Directory.Delete(tmp, true);
            removed.Add(Path.GetFileName(tmp));
        }
        var old = Latest + ".old";
        if (Directory.Exists(old))
        {
            if (IsComplete(Latest)) { Directory.Delete(old, true); removed.Add("latest.old"); }
            else if (!Directory.Exists(Latest) && IsComplete(old)) Directory.Move(old, Latest);
        }
        foreach (var f in Directory.GetFiles(_dir, ".best.safetensors.*.tmp")) { File.Delete(f); removed.Add(Path.GetFileName(f)); }
        return removed;
    }

    private static bool IsRunning(int pid)
    {
        try { using var p = System.Diagnostics.Process.GetProcessById(pid); return !p.HasExited; }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }

    private static bool IsComplete(string dir)
    {
        if (!Directory.Exists(dir)) return false;
        try { VerifyManifest(dir); return true; } catch (InvalidDataException) { return false; } catch (IOException) { return false; }
    }

    private string Latest => Path.Combine(_dir, "latest");
    private string BestFile => Path.Combine(_dir, "best.safetensors");

    public void Save(nn.Module model, IReadOnlyList<OptimizerHelper> optimizers, TrainingCheckpointState state, Dictionary<string, Tensor>? best)
    {
        var tmp = Path.Combine(_dir, $"latest.tmp-{Environment.ProcessId}");
        if (Directory.Exists(tmp)) Directory.Delete(tmp, true);
        Directory.CreateDirectory(tmp);
        using (var fs = File.Create(Path.Combine(tmp, "model.safetensors")))
            SafeTensors.Write(fs, model.state_dict());
        for (int i = 0; i < optimizers.Count; i++) optimizers[i].save_state_dict(Path.Combine(tmp, OptimizerFile(i)));
        File.WriteAllText(Path.Combine(tmp, "state.json"), JsonSerializer.Serialize(state));
        WriteManifest(tmp);
        if (best != null) AtomicFile.Write(BestFile, s => SafeTensors.Write(s, best));
        // Swap: latest -> latest.old, tmp -> latest, delete old. Every instant has a complete checkpoint on disk.
        var old = Latest + ".old";
        if (Directory.Exists(old)) Directory.Delete(old, true);
        if (Directory.Exists(Latest)) Directory.Move(Latest, old);
        Directory.Move(tmp, Latest);
        if (Directory.Exists(old)) Directory.Delete(old, true);
    }

    public bool TryLoadLatest(nn.Module model, IReadOnlyList<OptimizerHelper> optimizers, out TrainingCheckpointState state)
    {
        state = null!;
        var dir = Directory.Exists(Latest) ? Latest : Directory.Exists(Latest + ".old") ? Latest + ".old" : null;
        if (dir == null) return false;
        VerifyManifest(dir);
        state = JsonSerializer.Deserialize<TrainingCheckpointState>(File.ReadAllText(Path.Combine(dir, "state.json")))
            ?? throw new InvalidDataException($"Checkpoint '{dir}' has an empty state.json.");
        Dictionary<string, Tensor> weights;
        using (var fs = File.OpenRead(Path.Combine(dir, "model.safetensors"))) weights = SafeTensors.Read(fs);
        LoadInto(model, weights, dir);
        for (int i = 0; i < optimizers.Count; i++)
        {
            var f = Path.Combine(dir, OptimizerFile(i));
            if (!File.Exists(f)) throw new InvalidDataException($"Checkpoint '{dir}' has no state for optimiser {i} ('{OptimizerFile(i)}'); it was written by a run with fewer optimisers.");
            optimizers[i].load_state_dict(f);
        }
        return true;
    }

    // The first optimiser keeps the single-optimiser file name, so checkpoints written before several optimisers still resume.
    private static string OptimizerFile(int i) => i == 0 ? "optimizer.bin" : $"optimizer-{i}.bin";

    public Dictionary<string, Tensor>? TryLoadBest()
    {
        if (!File.Exists(BestFile)) return null;
        using var fs = File.OpenRead(BestFile);
        return SafeTensors.Read(fs);
    }

    internal static void LoadInto(nn.Module model, Dictionary<string, Tensor> weights, string source) => Torch.StateDicts.LoadStrict(model, weights, source);

    private static void WriteManifest(string dir)
    {
        var lines = Directory.GetFiles(dir).Where(f => Path.GetFileName(f) != "manifest.sha256").OrderBy(f => f, StringComparer.Ordinal)
            .Select(f => $"{Hash(f)}  {Path.GetFileName(f)}");
        File.WriteAllLines(Path.Combine(dir, "manifest.sha256"), lines);
    }

    private static void VerifyManifest(string dir)
    {
        var manifest = Path.Combine(dir, "manifest.sha256");
        if (!File.Exists(manifest)) throw new InvalidDataException($"Checkpoint '{dir}' has no manifest; it is incomplete or corrupt.");
        foreach (var line in File.ReadAllLines(manifest))
        {
            var parts = line.Split("  ", 2);
            var file = Path.Combine(dir, parts[1]);
            if (!File.Exists(file) || Hash(file) != parts[0])
                throw new InvalidDataException($"Checkpoint file '{file}' is missing or corrupt (checksum mismatch).");
        }
    }

    private static string Hash(string file)
    {
        using var s = File.OpenRead(file);
        return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(s));
    }
}

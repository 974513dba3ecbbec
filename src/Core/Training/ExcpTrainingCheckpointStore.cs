using System.Text.Json;
using MLNetExtensions.Core.Checkpoints;
using MLNetExtensions.Core.IO;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Training;

/// <summary>
/// Periodic training checkpoints as an ExCP chain in <c>directory/excp</c>: each save appends weights, float buffers and
/// the Adam/AdamW moments (lossy, closed loop against the previous reconstruction) with the progress state embedded as
/// an extra (<c>state.json</c>), so weights, moments and progress of a step are always one atomic file. A copy of the
/// state is also written to <c>excp/state.json</c> for people to read; best weights stay uncompressed in
/// <c>best.safetensors</c> (one tensor set, what the fitted model may return). Resume restores the chain's last step
/// with its true Adam step (<see cref="TorchCheckpointAdapter.Restore"/>).
/// </summary>
public sealed class ExcpTrainingCheckpointStore : ITrainingCheckpointStore
{
    /// <summary>Key of the progress state inside each chain step's extras.</summary>
    public const string StateExtra = "state.json";

    private readonly string _dir;
    private readonly ExcpChain _chain;

    /// <summary>Opens (or creates) the chain in <c>directory/excp</c>. <paramref name="startNewChain"/> deletes an existing chain (a run that does not resume).</summary>
    public ExcpTrainingCheckpointStore(string directory, ExcpOptions options, bool startNewChain = false)
    {
        _dir = directory;
        Directory.CreateDirectory(directory);
        if (startNewChain && Directory.Exists(ChainDirectory))
        {
            // Only our own files: links, index and the state copy.
            foreach (var f in Directory.EnumerateFiles(ChainDirectory, "*.excp")) File.Delete(f);
            foreach (var f in new[] { ExcpChain.IndexFileName, StateExtra }) if (File.Exists(Path.Combine(ChainDirectory, f))) File.Delete(Path.Combine(ChainDirectory, f));
        }
        _chain = ExcpChain.Open(ChainDirectory, options);
    }

    /// <summary>Folder of the chain.</summary>
    public string ChainDirectory => Path.Combine(_dir, "excp");
    /// <summary>The chain (read access to any step).</summary>
    public ExcpChain Chain => _chain;
    /// <summary>Result of the last <see cref="Save"/> (sizes, ratio, kept fractions), null before the first.</summary>
    public ExcpAppendResult? LastAppend { get; private set; }

    private string BestFile => Path.Combine(_dir, "best.safetensors");

    /// <inheritdoc/>
    public void Save(nn.Module model, OptimizerHelper opt, TrainingCheckpointState state, Dictionary<string, Tensor>? best)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(state);
        var ck = TorchCheckpointAdapter.Capture(model, opt, state.Step, new Dictionary<string, byte[]> { [StateExtra] = json });
        // Best weights first: a crash between the two leaves a chain whose state names an older best, which is safe.
        if (best != null) AtomicFile.Write(BestFile, s => SafeTensors.Write(s, best));
        LastAppend = _chain.Append(ck);
        AtomicFile.WriteAllBytes(Path.Combine(ChainDirectory, StateExtra), json);
    }

    /// <inheritdoc/>
    public bool TryLoadLatest(nn.Module model, OptimizerHelper opt, out TrainingCheckpointState state)
    {
        state = null!;
        if (_chain.Entries.Count == 0) return false;
        var last = _chain.Entries[^1];
        var ck = _chain.Read(last.Step);
        if (!ck.Extras.TryGetValue(StateExtra, out var json))
            throw new InvalidDataException($"ExCP checkpoint step {last.Step} in '{ChainDirectory}' has no '{StateExtra}' extra; it was not written by the training loop.");
        state = JsonSerializer.Deserialize<TrainingCheckpointState>(json)
            ?? throw new InvalidDataException($"ExCP checkpoint step {last.Step} in '{ChainDirectory}' has an empty '{StateExtra}'.");
        if (state.Step != last.Step) throw new InvalidDataException($"ExCP checkpoint step {last.Step} in '{ChainDirectory}' carries the state of step {state.Step}.");
        TorchCheckpointAdapter.Restore(ck, model, opt, strict: true);
        return true;
    }

    /// <inheritdoc/>
    public Dictionary<string, Tensor>? TryLoadBest()
    {
        if (!File.Exists(BestFile)) return null;
        using var fs = File.OpenRead(BestFile);
        return SafeTensors.Read(fs);
    }
}

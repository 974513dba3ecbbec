using System.Text.Json;
using MLNetExtensions.Core.IO;
using MLNetExtensions.Core.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Excp;

/// <summary>
/// Periodic training checkpoints as an ExCP chain in <c>directory/excp</c>: each save appends weights, float buffers and
/// the Adam/AdamW moments (lossy, closed loop against the previous reconstruction) with the progress state embedded as
/// an extra (<c>state.json</c>), so weights, moments and progress of a step are always one atomic file. A copy of the
/// state is also written to <c>excp/state.json</c> for people to read; best weights stay uncompressed in
/// <c>best.safetensors</c> (one tensor set, what the fitted model may return). Resume restores the chain's last step
/// (<see cref="TorchCheckpointAdapter.Restore"/>); after a lossy link Adam's step restarts at 0 unless
/// <see cref="ExcpOptions.ResumeAdamStep"/> says otherwise. When the trainer has written a model card
/// (<see cref="ExcpModelCard"/>, <c>excp/model.json</c>) that matches the network, every key frame embeds it as an extra,
/// so any step (decoded from its key frame) can be turned into a servable model from the chain files alone
/// (<see cref="ExcpCheckpointTransformer"/>).
/// </summary>
public sealed class ExcpTrainingCheckpointStore : ITrainingCheckpointStore
{
    /// <summary>Key of the progress state inside each chain step's extras.</summary>
    public const string StateExtra = "state.json";

    private readonly string _dir;
    private readonly ExcpChain _chain;
    private byte[]? _card;
    private bool _cardChecked;

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
    public string ChainDirectory => ChainDirectoryOf(_dir);
    /// <summary>Folder of the chain kept for the checkpoint folder <paramref name="checkpointDirectory"/>.</summary>
    public static string ChainDirectoryOf(string checkpointDirectory) => Path.Combine(checkpointDirectory, "excp");
    /// <summary>The chain (read access to any step).</summary>
    public ExcpChain Chain => _chain;
    /// <summary>Result of the last <see cref="Save"/> (sizes, ratio, kept fractions), null before the first.</summary>
    public ExcpAppendResult? LastAppend { get; private set; }

    private string BestFile => Path.Combine(_dir, "best.safetensors");

    /// <inheritdoc/>
    public void Save(nn.Module model, IReadOnlyList<OptimizerHelper> optimizers, TrainingCheckpointState state, Dictionary<string, Tensor>? best)
    {
        var opt = Single(optimizers);
        if (_chain.Entries.Count > 0 && _chain.Entries[^1].Step == state.Step)
        {
            // A step-interval checkpoint fell on an epoch's last step: the last link already holds these weights and
            // moments. Its mid-epoch state resumes correctly (the epoch's batches are skipped, its end re-validated).
            if (best != null) AtomicFile.Write(BestFile, s => SafeTensors.Write(s, best));
            return;
        }
        var json = JsonSerializer.SerializeToUtf8Bytes(state);
        var extras = new Dictionary<string, byte[]> { [StateExtra] = json };
        // Key frames only: no step decodes without its key frame, so that makes every step self-describing at no cost per link.
        if (_chain.NextAppendIsKeyFrame && ModelCard(model) is { } card) extras[ExcpModelCard.ExtraKey] = card;
        var ck = TorchCheckpointAdapter.Capture(model, opt, state.Step, extras);
        // Best weights first: a crash between the two leaves a chain whose state names an older best, which is safe.
        if (best != null) AtomicFile.Write(BestFile, s => SafeTensors.Write(s, best));
        LastAppend = _chain.Append(ck);
        AtomicFile.WriteAllBytes(Path.Combine(ChainDirectory, StateExtra), json);
    }

    /// <summary>
    /// The model card written by the trainer for this run, checked once against the network being saved: a card that
    /// is unreadable or describes other tensors (e.g. left by an earlier run of another trainer) is not embedded.
    /// </summary>
    private byte[]? ModelCard(nn.Module model)
    {
        if (_cardChecked) return _card;
        _cardChecked = true;
        var path = Path.Combine(ChainDirectory, ExcpModelCard.FileName);
        if (!File.Exists(path)) return null;
        try
        {
            var bytes = File.ReadAllBytes(path);
            if (ExcpModelCard.Parse(bytes, $"'{path}'").Matches(ExcpModelCard.SignatureOf(model), out _)) _card = bytes;
        }
        catch (InvalidDataException) { } // training must not fail over a damaged description; serving reports it
        return _card;
    }

    /// <inheritdoc/>
    public bool TryLoadLatest(nn.Module model, IReadOnlyList<OptimizerHelper> optimizers, out TrainingCheckpointState state)
    {
        var opt = Single(optimizers);
        state = null!;
        if (_chain.Entries.Count == 0) return false;
        var last = _chain.Entries[^1];
        var ck = _chain.Read(last.Step);
        if (!ck.Extras.TryGetValue(StateExtra, out var json))
            throw new InvalidDataException($"ExCP checkpoint step {last.Step} in '{ChainDirectory}' has no '{StateExtra}' extra; it was not written by the training loop.");
        state = JsonSerializer.Deserialize<TrainingCheckpointState>(json)
            ?? throw new InvalidDataException($"ExCP checkpoint step {last.Step} in '{ChainDirectory}' has an empty '{StateExtra}'.");
        if (state.Step != last.Step) throw new InvalidDataException($"ExCP checkpoint step {last.Step} in '{ChainDirectory}' carries the state of step {state.Step}.");
        if (!last.IsKeyFrame && _chain.Options.ResumeAdamStep == ExcpResumeAdamStep.Restart)
            ck = WithAdamStep(ck, 0); // lossy moments: restart the bias correction (ExcpResumeAdamStep.Restart)
        TorchCheckpointAdapter.Restore(ck, model, opt, strict: true);
        return true;
    }

    // ExCP stores one AdamW's moments beside each weight.
    private static OptimizerHelper Single(IReadOnlyList<OptimizerHelper> optimizers) => optimizers.Count == 1 ? optimizers[0]
        : throw new NotSupportedException($"CheckpointFormat store the moments of one AdamW; this training step has {optimizers.Count} optimisers. Use uncompressed checkpoints (CheckpointFormat = null).");

    private static TrainingCheckpoint WithAdamStep(TrainingCheckpoint ck, long step) =>
        new(ck.Step, ck.Parameters.Select(p => p.Adam == null ? p : p with { Adam = p.Adam with { Step = step } }), ck.Optimizer, ck.Extras);

    /// <inheritdoc/>
    public Dictionary<string, Tensor>? TryLoadBest()
    {
        if (!File.Exists(BestFile)) return null;
        using var fs = File.OpenRead(BestFile);
        return SafeTensors.Read(fs);
    }
}

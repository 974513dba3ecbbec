using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Core.Interop;
using MLNetExtensions.Core.Models;
using MLNetExtensions.Core.Torch;
using MLNetExtensions.Core.IO;
using MLNetExtensions.Core.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Excp;

/// <summary>What an <see cref="ExcpCheckpointTransformer"/> writes into the model zip.</summary>
public enum ExcpModelPayload
{
    /// <summary>The decoded float32 weights of the step (safetensors, SHA-256 checked at load). Smallest and fastest to load.</summary>
    DecodedWeights,
    /// <summary>
    /// The chain's own compressed files from the last key frame up to the step, decoded at load: the reconstruction hash
    /// in each link header proves the served weights are bit for bit that chain step. Larger (the key frame is lossless
    /// and includes the Adam moments), so meant for audit and provenance rather than size.
    /// </summary>
    ChainLinks,
}

/// <summary>
/// A chosen step of an ExCP training chain (written by any of the suite's trainers with
/// <see cref="TorchTrainerOptions.CheckpointFormat"/>: classifiers, segmenters, video classifiers) served as an ML.NET
/// transformer with the outputs its trainer's model has (e.g. <c>Score</c>/<c>PredictedLabel</c>), built from the chain
/// alone (the step's embedded <see cref="ExcpModelCard"/> rebuilds the network). Round-trips through
/// <c>mlContext.Model.Save/Load</c> (<c>RegisterMLNetExtensions()</c> first) with the payload chosen by
/// <see cref="ExcpModelPayload"/>; the chain folder is not needed to load the saved model.
/// </summary>
public sealed class ExcpCheckpointTransformer : TorchTransformerBase
{
    internal const string LoaderSignature = "MLNetExtExcpCheckpoint";
    private static readonly MLNetInternals.ModelVersion Version = new("MLXEXCPT", 0x00020001, 0x00020001, 0x00010001, LoaderSignature);

    /// <summary>One file of the chain path key frame → step, as read from disk or from a model zip.</summary>
    private sealed record LinkBlob(long Step, long ParentStep, bool IsKeyFrame, string FileName, byte[] Bytes);

    private readonly IReadOnlyList<LinkBlob>? _links;

    private ExcpCheckpointTransformer(IHostEnvironment env, ModelDescription description, TorchNetwork model, Device device,
        int inferenceBatchSize, string chainDirectory, long step, string reconstructionSha256, ExcpModelPayload payload, IReadOnlyList<LinkBlob>? links)
        : base(env, nameof(ExcpCheckpointTransformer), description with { InferenceBatchSize = inferenceBatchSize }, model, device)
    {
        ChainDirectory = chainDirectory;
        Step = step;
        ReconstructionSha256 = reconstructionSha256;
        Payload = payload;
        _links = links;
    }

    /// <summary>Chain folder the step was taken from (as given at creation; informational after loading a saved model).</summary>
    public string ChainDirectory { get; }
    /// <summary>The served training step.</summary>
    public long Step { get; }
    /// <summary>SHA-256 (hex) of the step's reconstruction (weights + moments) as recorded in the chain.</summary>
    public string ReconstructionSha256 { get; }
    /// <summary>What <c>mlContext.Model.Save</c> embeds.</summary>
    public ExcpModelPayload Payload { get; }

    private protected override MLNetInternals.ModelVersion PersistenceVersion => Version;

    /// <summary>
    /// Decodes step <paramref name="step"/> (null = the last) of the chain in <paramref name="chainDirectory"/> (the
    /// <c>excp</c> folder inside a trainer's <c>CheckpointDirectory</c>) and wraps it as a servable transformer.
    /// The network is rebuilt from the model card on the step's decode path (or the chain's <c>model.json</c>), or from
    /// <paramref name="description"/> when given (chains written without a card). Needs the architecture registered
    /// (<c>mlContext.RegisterMLNetExtensions()</c>).
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="ArgumentException">The chain is empty or has no such step (the message lists its steps).</exception>
    /// <exception cref="ExcpFormatException">A file of the path key frame → step is missing or corrupt (names file and step).</exception>
    /// <exception cref="InvalidDataException">No usable model description, or it does not match the step's tensors.</exception>
    public static ExcpCheckpointTransformer Create(IHostEnvironment env, string chainDirectory, long? step = null,
        ModelDescription? description = null, ExcpModelPayload payload = ExcpModelPayload.DecodedWeights,
        string? device = null, int inferenceBatchSize = 64)
    {
        ArgumentNullException.ThrowIfNull(env);
        if (inferenceBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(inferenceBatchSize), inferenceBatchSize, "inferenceBatchSize must be at least 1.");
        var chain = OpenChain(chainDirectory);
        var entry = Resolve(chain, step);
        var blobs = ReadPath(chain, entry);
        var ck = DecodeLinks(blobs, b => Path.Combine(chain.Directory, b.FileName));
        var stepSource = $"step {entry.Step} of chain '{chain.Directory}'";
        var card = CardOnPath(blobs, b => Path.Combine(chain.Directory, b.FileName)) ?? ExcpModelCard.TryRead(chain.Directory);
        var d = description ?? card?.Description
            ?? throw new InvalidDataException($"ExCP {stepSource} carries no model description (no '{ExcpModelCard.ExtraKey}' extra and no '{Path.Combine(chain.Directory, ExcpModelCard.FileName)}'): " +
                "the chain was not written by one of the suite's trainers; pass the description.");
        if (description == null && card != null && !card.Matches(ck, out var why))
            throw new InvalidDataException($"ExCP {stepSource}: the model card does not match the step's tensors ({why}).");
        var model = Rebuild(d, ck, stepSource);
        var dev = TorchDevices.Resolve(device, env as MLContext);
        model.Module.to(dev);
        return new ExcpCheckpointTransformer(env, d, model, dev, inferenceBatchSize, chain.Directory, entry.Step, Hex(entry.ReconstructionHash),
            payload, payload == ExcpModelPayload.ChainLinks ? blobs : null);
    }

    /// <summary>
    /// The description of the network stored with step <paramref name="step"/> (null = last) of a chain: the nearest card
    /// on the path step → key frame (trainers store it in key frames), read from the manifests without decoding; falls
    /// back to the chain's <c>model.json</c>; null when there is none.
    /// </summary>
    public static ExcpModelCard? ReadModelCard(string chainDirectory, long? step = null)
    {
        var chain = OpenChain(chainDirectory);
        var entry = Resolve(chain, step);
        var entries = chain.Entries.ToList();
        for (int i = entries.IndexOf(entry); i >= 0; i--)
        {
            var info = ExcpFile.ReadInfo(Path.Combine(chain.Directory, entries[i].FileName));
            if (CardOf(info.Extras, $"step {entries[i].Step} of chain '{chain.Directory}'") is { } card) return card;
            if (entries[i].IsKeyFrame) break;
        }
        return ExcpModelCard.TryRead(chain.Directory);
    }

    // ---- creation helpers ----------------------------------------------------------------------------------------------
    private static ExcpChain OpenChain(string chainDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(chainDirectory);
        // ExcpChain.Open creates missing folders (for writing); serving must not.
        if (!Directory.Exists(chainDirectory)) throw new DirectoryNotFoundException($"ExCP chain folder '{chainDirectory}' does not exist.");
        var chain = ExcpChain.Open(chainDirectory);
        if (chain.Entries.Count == 0)
            throw new ArgumentException($"ExCP chain '{chainDirectory}' has no steps (no or empty '{ExcpChain.IndexFileName}').", nameof(chainDirectory));
        return chain;
    }

    private static ExcpChainEntry Resolve(ExcpChain chain, long? step)
    {
        if (step == null) return chain.Entries[^1];
        return chain.Entries.FirstOrDefault(e => e.Step == step)
            ?? throw new ArgumentException($"ExCP chain '{chain.IndexPath}' has no step {step}; its steps are {string.Join(", ", chain.Entries.Select(e => e.Step))}.", nameof(step));
    }

    /// <summary>The files from the last key frame up to <paramref name="target"/>, read from disk.</summary>
    private static List<LinkBlob> ReadPath(ExcpChain chain, ExcpChainEntry target)
    {
        var entries = chain.Entries;
        int i = entries.ToList().IndexOf(target);
        int start = i;
        while (!entries[start].IsKeyFrame)
        {
            if (start == 0 || entries[start].ParentStep != entries[start - 1].Step)
                throw new ExcpFormatException(Path.Combine(chain.Directory, entries[start].FileName), entries[start].Step, $"missing link: parent step {entries[start].ParentStep} is not in the index.");
            start--;
        }
        var list = new List<LinkBlob>();
        for (int k = start; k <= i; k++)
        {
            var e = entries[k];
            var path = Path.Combine(chain.Directory, e.FileName);
            if (!File.Exists(path)) throw new ExcpFormatException(path, e.Step, $"missing link: the file listed in the index does not exist (needed to decode step {target.Step}).");
            list.Add(new LinkBlob(e.Step, e.ParentStep, e.IsKeyFrame, e.FileName, File.ReadAllBytes(path)));
        }
        return list;
    }

    /// <summary>Decodes key frame → last link in memory; every header, checksum, parent and reconstruction hash is checked.</summary>
    private static TrainingCheckpoint DecodeLinks(IReadOnlyList<LinkBlob> blobs, Func<LinkBlob, string> sourceOf)
    {
        TrainingCheckpoint? cur = null;
        foreach (var b in blobs)
        {
            var src = sourceOf(b);
            ExcpLink link;
            try { link = ExcpFile.Deserialize(b.Bytes, src); }
            catch (ExcpFormatException ex) when (ex.Step == null)
            {
                // A damaged header cannot tell its own step; the index can.
                throw new ExcpFormatException(src, b.Step, ex.Message[(ex.Message.IndexOf("': ", StringComparison.Ordinal) + 3)..], ex);
            }
            if (link.Step != b.Step || link.ParentStep != b.ParentStep || link.IsKeyFrame != b.IsKeyFrame)
                throw new ExcpFormatException(src, b.Step, "file header disagrees with the chain index (file replaced or index stale).");
            if (!link.IsKeyFrame && cur == null) throw new ExcpFormatException(src, b.Step, $"missing link: parent step {b.ParentStep} is not available.");
            cur = ExcpCodec.Decode(link, link.IsKeyFrame ? null : cur, src);
        }
        return cur ?? throw new InvalidDataException("No chain files to decode.");
    }

    /// <summary>The nearest card on the decode path (the step's own file first, then back to its key frame).</summary>
    private static ExcpModelCard? CardOnPath(IReadOnlyList<LinkBlob> blobs, Func<LinkBlob, string> sourceOf)
    {
        for (int i = blobs.Count - 1; i >= 0; i--)
        {
            var info = ExcpFile.ParseInfo(blobs[i].Bytes, sourceOf(blobs[i]));
            if (CardOf(info.Extras, $"step {blobs[i].Step} ('{sourceOf(blobs[i])}')") is { } card) return card;
        }
        return null;
    }

    private static ExcpModelCard? CardOf(IReadOnlyDictionary<string, byte[]> extras, string source) =>
        extras.TryGetValue(ExcpModelCard.ExtraKey, out var bytes) ? ExcpModelCard.Parse(bytes, $"in {source}") : null;

    private static TorchNetwork Rebuild(ModelDescription d, TrainingCheckpoint ck, string source)
    {
        var net = TorchModelRegistry.BuildNetwork(d.Architecture, d.ConfigJson, d.NumClasses);
        try { TorchCheckpointAdapter.Restore(ck, net.Module, null, strict: true); }
        catch (ArgumentException e)
        {
            net.Module.Dispose();
            throw new InvalidDataException($"ExCP {source} does not fit a '{d.Architecture}' network: {e.Message}", e);
        }
        net.Module.eval();
        return net;
    }

    private static string Hex(byte[] h) => Convert.ToHexString(h).ToLowerInvariant();

    // ---- persistence ---------------------------------------------------------------------------------------------------
    private sealed record SavedLink(long Step, long ParentStep, bool IsKeyFrame, string FileName, string Stream, string? Sha256 = null);
    private sealed record SavedInfo(ModelDescription Description, string ChainDirectory, long Step, string ReconstructionSha256,
        ExcpModelPayload Payload, string? WeightsSha256, SavedLink[]? Links);

    protected override void SaveModel(ModelSaveContext ctx)
    {
        var streams = new List<(string, Action<BinaryWriter>)>();
        string? weightsHash = null;
        SavedLink[]? links = null;
        if (Payload == ExcpModelPayload.DecodedWeights)
        {
            using var ms = new MemoryStream();
            SafeTensors.Write(ms, Model.state_dict());
            var bytes = ms.ToArray();
            weightsHash = Hex(SHA256.HashData(bytes));
            streams.Add((WeightsStream, w => w.Write(bytes)));
        }
        else
        {
            links = _links!.Select((b, i) => new SavedLink(b.Step, b.ParentStep, b.IsKeyFrame, b.FileName, $"Link-{i:D5}.excp", Hex(SHA256.HashData(b.Bytes)))).ToArray();
            for (int i = 0; i < links.Length; i++)
            {
                var bytes = _links![i].Bytes;
                streams.Add((links[i].Stream, w => w.Write(bytes)));
            }
        }
        var info = new SavedInfo(Description with { InferenceBatchSize = InferenceBatchSize }, ChainDirectory, Step, ReconstructionSha256, Payload, weightsHash, links);
        MLNetInternals.Save(ctx, Version, typeof(ExcpCheckpointTransformer), w => w.Write(JsonSerializer.Serialize(info)), streams);
    }

    /// <summary>ML.NET's loader entry (<c>SignatureLoadModel</c>); <paramref name="ctx"/> is its ModelLoadContext.</summary>
    private static ExcpCheckpointTransformer Create(IHostEnvironment env, object ctx)
    {
        var load = MLNetInternals.OpenLoad(ctx, Version, typeof(ExcpCheckpointTransformer));
        SavedInfo info;
        try
        {
            var json = load.Reader.ReadString();
            info = load.VersionWritten >= 0x00020001
                ? JsonSerializer.Deserialize<SavedInfo>(json) ?? throw new InvalidDataException("The ExCP model's description is empty.")
                : (JsonSerializer.Deserialize<SavedInfoV1>(json) ?? throw new InvalidDataException("The ExCP model's description is empty.")).Upgrade();
        }
        catch (JsonException e) { throw new InvalidDataException($"The ExCP model's description is unreadable: {e.Message}", e); }
        static byte[] All(BinaryReader r) { using var ms = new MemoryStream(); r.BaseStream.CopyTo(ms); return ms.ToArray(); }
        TorchNetwork model;
        List<LinkBlob>? blobs = null;
        if (info.Payload == ExcpModelPayload.DecodedWeights)
        {
            var bytes = load.ReadStream(WeightsStream, All);
            if (Hex(SHA256.HashData(bytes)) != info.WeightsSha256)
                throw new InvalidDataException($"The model zip's stream '{WeightsStream}' (ExCP step {info.Step}) is corrupt: SHA-256 mismatch.");
            Dictionary<string, Tensor> weights;
            using (var ms = new MemoryStream(bytes)) weights = SafeTensors.Read(ms);
            model = TorchModelRegistry.BuildNetwork(info.Description.Architecture, info.Description.ConfigJson, info.Description.NumClasses);
            StateDicts.LoadStrict(model.Module, weights, $"model zip (ExCP step {info.Step})");
            model.Module.eval();
        }
        else
        {
            if (info.Links is not { Length: > 0 }) throw new InvalidDataException($"The ExCP model (step {info.Step}) lists no chain files.");
            blobs = info.Links.Select(l =>
            {
                var bytes = load.ReadStream(l.Stream, All);
                // Zips saved before per-link hashes rely on the reconstruction hash below (and the zip CRC-32).
                if (l.Sha256 != null && Hex(SHA256.HashData(bytes)) != l.Sha256)
                    throw new InvalidDataException($"The model zip's stream '{l.Stream}' (ExCP chain file '{l.FileName}', step {l.Step}) is corrupt: SHA-256 mismatch.");
                return new LinkBlob(l.Step, l.ParentStep, l.IsKeyFrame, l.FileName, bytes);
            }).ToList();
            var ck = DecodeLinks(blobs, b => $"model zip stream for '{b.FileName}'");
            var source = $"step {info.Step} embedded in the model zip";
            if (ck.Step != info.Step || Hex(ck.ContentHash()) != info.ReconstructionSha256)
                throw new InvalidDataException($"ExCP {source}: the embedded chain decodes to step {ck.Step} with another reconstruction hash.");
            model = Rebuild(info.Description, ck, source);
        }
        var device = TorchDevices.Resolve(null, env as MLContext);
        model.Module.to(device);
        return new ExcpCheckpointTransformer(env, info.Description, model, device, info.Description.InferenceBatchSize, info.ChainDirectory, info.Step, info.ReconstructionSha256, info.Payload, blobs);
    }

    /// <summary>What version 1 saved (an image-classifier description).</summary>
    private sealed record SavedInfoV1(ImageClassifierDescription Description, string ChainDirectory, long Step, string ReconstructionSha256,
        ExcpModelPayload Payload, string? WeightsSha256, SavedLink[]? Links)
    {
        public SavedInfo Upgrade() => new(Description.ToModelDescription(), ChainDirectory, Step, ReconstructionSha256, Payload, WeightsSha256, Links);
    }

    internal static void RegisterLoader(ComponentCatalog catalog) =>
        MLNetInternals.RegisterLoader(catalog, typeof(ExcpCheckpointTransformer), LoaderSignature,
            typeof(ExcpCheckpointTransformer).GetMethod(nameof(Create), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static,
                new[] { typeof(IHostEnvironment), typeof(object) })!);
}

using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Core.Models;
using MLNetExtensions.Core.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Excp;

/// <summary>Name and shape of one tensor a network expects from a checkpoint (parameters and float buffers).</summary>
public sealed record ExcpTensorSignature(string Name, long[] Shape);

/// <summary>
/// What it takes to rebuild the network of an ExCP training chain: the model description (task, architecture, training
/// config JSON, classes, inputs with their geometry and normalisation, outputs) of any of the suite's trainers, and the names and shapes of the tensors the
/// network stores in the chain. Trainers write it next to the chain (<c>excp/model.json</c>) and embed it in every key
/// frame as the extra <see cref="ExtraKey"/>, so any step (which decodes from its key frame) is self-describing.
/// </summary>
/// <remarks>
/// File format (UTF-8 JSON): <c>format</c> = <see cref="FormatId"/>, <c>version</c> (2; 1 = an image-classifier
/// description, still read), <c>kind</c> (the description's task), <c>description</c> (the description as a JSON string), <c>tensors</c> (signature) and
/// <c>sha256</c> over the description string and the signature lines, checked on every read. Written atomically.
/// </remarks>
public sealed class ExcpModelCard
{
    /// <summary>File name inside the chain folder.</summary>
    public const string FileName = "model.json";
    /// <summary>Key of the card inside a chain step's extras.</summary>
    public const string ExtraKey = "model.json";
    /// <summary>Format identifier.</summary>
    public const string FormatId = "mlnetextensions/excp-model-card";
    /// <summary>Current version.</summary>
    public const int CurrentVersion = 2;
    private const string ImageClassifierKind = "image-classifier";
    // Compact and with \" rather than \u0022 inside the embedded description: the card rides in key-frame manifests.
    private static readonly JsonSerializerOptions Compact = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Creates a card from a description and the tensors the network stores in a checkpoint (its training form).</summary>
    public ExcpModelCard(ModelDescription description, IReadOnlyList<ExcpTensorSignature> tensors)
    {
        Description = description ?? throw new ArgumentNullException(nameof(description));
        Tensors = tensors ?? throw new ArgumentNullException(nameof(tensors));
    }

    /// <summary>Task, architecture, training config, classes, inputs and outputs.</summary>
    public ModelDescription Description { get; }
    /// <summary>Tensors the network stores in a checkpoint (parameters and float buffers), in module order.</summary>
    public IReadOnlyList<ExcpTensorSignature> Tensors { get; }

    /// <summary>The card of a network: its description plus the names and shapes of what a checkpoint of it holds.</summary>
    public static ExcpModelCard For(ModelDescription description, nn.Module network)
    {
        ArgumentNullException.ThrowIfNull(network);
        return new ExcpModelCard(description, SignatureOf(network));
    }

    /// <summary>Parameters and float buffers of <paramref name="network"/>, the set <see cref="TorchCheckpointAdapter.Capture"/> stores.</summary>
    public static IReadOnlyList<ExcpTensorSignature> SignatureOf(nn.Module network)
    {
        var list = network.named_parameters().Select(p => new ExcpTensorSignature(p.name, p.parameter.shape)).ToList();
        foreach (var (name, b) in network.named_buffers())
            if (torch.is_floating_point(b)) list.Add(new ExcpTensorSignature(name, b.shape));
        return list;
    }

    /// <summary>Whether a checkpoint holds exactly the tensors of this card (names and shapes); <paramref name="why"/> says the first difference.</summary>
    public bool Matches(IEnumerable<ExcpTensorSignature> tensors, out string why)
    {
        var have = tensors.ToDictionary(t => t.Name, t => t.Shape);
        foreach (var t in Tensors)
        {
            if (!have.TryGetValue(t.Name, out var shape)) { why = $"tensor '{t.Name}' is missing"; return false; }
            if (!shape.SequenceEqual(t.Shape)) { why = $"tensor '{t.Name}' has shape [{string.Join(",", shape)}], the card says [{string.Join(",", t.Shape)}]"; return false; }
            have.Remove(t.Name);
        }
        if (have.Count > 0) { why = $"unexpected tensor '{have.Keys.First()}'"; return false; }
        why = "";
        return true;
    }

    /// <summary>Whether the parameters of <paramref name="checkpoint"/> are exactly this card's tensors.</summary>
    public bool Matches(TrainingCheckpoint checkpoint, out string why) =>
        Matches(checkpoint.Parameters.Select(p => new ExcpTensorSignature(p.Name, p.Shape)), out why);

    // ---- serialisation ---------------------------------------------------------------------------------------------
    private sealed record Envelope(
        [property: JsonPropertyName("format")] string Format,
        [property: JsonPropertyName("version")] int Version,
        [property: JsonPropertyName("kind")] string Kind,
        [property: JsonPropertyName("description")] string Description,
        [property: JsonPropertyName("tensors")] ExcpTensorSignature[] Tensors,
        [property: JsonPropertyName("sha256")] string Sha256);

    /// <summary>UTF-8 JSON bytes of the card (with its checksum).</summary>
    public byte[] ToBytes()
    {
        var d = JsonSerializer.Serialize(Description, Compact);
        var env = new Envelope(FormatId, CurrentVersion, Description.Task, d, Tensors.ToArray(), Hash(d, Tensors));
        return JsonSerializer.SerializeToUtf8Bytes(env, Compact);
    }

    /// <summary>Parses card bytes; <paramref name="source"/> names them in errors (file, or chain step extra).</summary>
    /// <exception cref="InvalidDataException">Not a card, a newer version, or the checksum does not match.</exception>
    public static ExcpModelCard Parse(byte[] bytes, string source)
    {
        Envelope? env;
        try { env = JsonSerializer.Deserialize<Envelope>(bytes); }
        catch (JsonException e) { throw new InvalidDataException($"ExCP model card {source} is not valid JSON: {e.Message}", e); }
        if (env == null || env.Format != FormatId) throw new InvalidDataException($"ExCP model card {source} is not an ExCP model card (format '{env?.Format}').");
        if (env.Version > CurrentVersion) throw new InvalidDataException($"ExCP model card {source} has version {env.Version}; this build reads up to {CurrentVersion}.");
        if (env.Version == 1 && env.Kind != ImageClassifierKind) throw new InvalidDataException($"ExCP model card {source} (version 1) describes a '{env.Kind}'; version-1 cards describe '{ImageClassifierKind}' networks only.");
        if (env.Description == null || env.Tensors == null || env.Tensors.Any(t => t?.Name == null || t.Shape == null))
            throw new InvalidDataException($"ExCP model card {source} is incomplete.");
        if (!string.Equals(Hash(env.Description, env.Tensors), env.Sha256, StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException($"ExCP model card {source} is corrupt (checksum mismatch).");
        if (env.Version >= 2) return new ExcpModelCard(ModelDescription.Parse(env.Description, $"ExCP model card {source}"), env.Tensors);
        ImageClassifierDescription? d;
        try { d = JsonSerializer.Deserialize<ImageClassifierDescription>(env.Description); }
        catch (JsonException e) { throw new InvalidDataException($"ExCP model card {source} has an unreadable description: {e.Message}", e); }
        return new ExcpModelCard((d ?? throw new InvalidDataException($"ExCP model card {source} has an empty description.")).ToModelDescription(), env.Tensors);
    }

    /// <summary>Writes the card as <c>model.json</c> in <paramref name="chainDirectory"/> (atomic).</summary>
    public void Write(string chainDirectory) => AtomicFile.WriteAllBytes(Path.Combine(chainDirectory, FileName), ToBytes());

    /// <summary>The card file of a chain folder, or null when there is none.</summary>
    public static ExcpModelCard? TryRead(string chainDirectory)
    {
        var path = Path.Combine(chainDirectory, FileName);
        return File.Exists(path) ? Parse(File.ReadAllBytes(path), $"'{path}'") : null;
    }

    private static string Hash(string description, IEnumerable<ExcpTensorSignature> tensors)
    {
        var sb = new StringBuilder(description);
        foreach (var t in tensors) sb.Append('\n').Append(t.Name).Append(':').Append(string.Join(",", t.Shape));
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString()))).ToLowerInvariant();
    }
}

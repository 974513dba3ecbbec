using System.Text.Json;
using MLNetExtensions.Core.Data.Binding;

namespace MLNetExtensions.Core.Models;

/// <summary>
/// Everything a fitted model stores to rebuild and serve itself: the task, the architecture (registry name and the
/// typed record as JSON), classes, the bound inputs (with their geometry and preprocessing), the outputs, the inference
/// batch size, and a SHA-256 of every weights stream (checked at load). Saved as JSON inside the model zip and inside
/// ExCP model cards; persistence version 2 (version-1 zips are converted on load).
/// </summary>
/// <param name="Task">What the model does (<see cref="ModelTasks"/>).</param>
/// <param name="Architecture">Registry name of the network.</param>
/// <param name="ConfigJson">The architecture record as JSON (<see cref="TorchModelRegistry.ConfigJson"/>).</param>
/// <param name="NumClasses">Classes K (0 when the task has none).</param>
/// <param name="ClassNames">Key values of predicted keys (K entries).</param>
/// <param name="Inputs">Bound columns, features and labels.</param>
/// <param name="Outputs">Output columns, in order.</param>
public sealed record ModelDescription(string Task, string Architecture, string ConfigJson, int NumClasses, string[] ClassNames,
    InputSpec[] Inputs, OutputSpec[] Outputs)
{
    /// <summary>Persistence version of this description.</summary>
    public int Version { get; init; } = 2;
    /// <summary>Rows per forward when transforming. Default 64.</summary>
    public int InferenceBatchSize { get; init; } = 64;
    /// <summary>SHA-256 (hex) of every weights stream by stream name; filled when saving.</summary>
    public Dictionary<string, string> StreamSha256 { get; init; } = new();
    /// <summary>Component settings that are neither inputs nor outputs (e.g. decoding options), as strings.</summary>
    public Dictionary<string, string> Properties { get; init; } = new();

    /// <summary>The inputs read at serving time.</summary>
    public IEnumerable<InputSpec> Features => Inputs.Where(i => i.Role == InputRole.Feature);

    /// <summary>The first input's column (convenience for one-input models).</summary>
    public string InputColumn => Features.First().Column;

    /// <summary>Serialises the description.</summary>
    public string ToJson() => JsonSerializer.Serialize(this);

    /// <summary>Parses a description; <paramref name="source"/> names it in errors.</summary>
    public static ModelDescription Parse(string json, string source)
    {
        ModelDescription? d;
        try { d = JsonSerializer.Deserialize<ModelDescription>(json); }
        catch (JsonException e) { throw new InvalidDataException($"The model description in {source} is unreadable: {e.Message}", e); }
        if (d == null || d.Inputs == null || d.Outputs == null || d.Architecture == null)
            throw new InvalidDataException($"The model description in {source} is incomplete.");
        if (d.Version > 2) throw new InvalidDataException($"The model description in {source} has version {d.Version}; this build reads up to 2.");
        return d;
    }
}

/// <summary>Task names of <see cref="ModelDescription.Task"/>.</summary>
public static class ModelTasks
{
    /// <summary>Multiclass classification (images or clips).</summary>
    public const string Classifier = "classifier";
    /// <summary>Semantic segmentation.</summary>
    public const string Segmenter = "segmenter";
}

using MLNetExtensions.Core.Data;

namespace MLNetExtensions.Transforms.Fustal;

/// <summary>Options of the snippet featuriser (<c>mlContext.TemporalLocalization().Transforms.FeaturizeSnippets</c>).</summary>
public sealed class SnippetFeaturizerOptions
{
    /// <summary>Frames column: a (variable-length) Vector&lt;Single&gt; of N×3×H×W RGB values in [0, 1], frame-major —
    /// what <c>mlContext.Transforms.LoadVideoFrames(..., frames: 0, H, W)</c> decodes. Default <c>Frames</c>.</summary>
    public string InputColumnName { get; set; } = "Frames";

    /// <summary>Feature-sequence column added: Vector&lt;Single&gt; of T'·F values, snippet-major (the teacher's and
    /// student's <c>Features</c>). Default <c>Features</c>.</summary>
    public string OutputColumnName { get; set; } = ColumnNames.Features;

    /// <summary>Frames between the starts of consecutive snippets; null = the backbone's clip length T (non-overlapping
    /// snippets, as CoLA's 16-frame I3D snippets). Default null.</summary>
    public int? SnippetStride { get; set; }

    /// <summary>Snippets per backbone forward pass (memory vs speed; results do not depend on it). Default 32.</summary>
    public int BatchSize { get; set; } = 32;

    /// <summary>Throws naming the first invalid setting.</summary>
    public void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(InputColumnName, nameof(InputColumnName));
        ArgumentException.ThrowIfNullOrWhiteSpace(OutputColumnName, nameof(OutputColumnName));
        if (SnippetStride is < 1) throw new ArgumentOutOfRangeException(nameof(SnippetStride), SnippetStride, "SnippetStride must be ≥ 1 (or null).");
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be ≥ 1.");
    }
}

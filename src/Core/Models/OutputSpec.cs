namespace MLNetExtensions.Core.Models;

/// <summary>How an output column is derived from the network's named outputs.</summary>
public enum OutputKind
{
    /// <summary>A known-size <c>Vector&lt;Single&gt;</c> of the row's values (dimensions = <see cref="OutputSpec.Shape"/>).</summary>
    Scores,
    /// <summary>A scalar key = argmax + 1 over the row's values (e.g. PredictedLabel).</summary>
    ArgmaxKey,
    /// <summary>Per-position keys: the row is Classes × Positions, the column Vector&lt;Key&gt; of Positions (a segmentation map).</summary>
    ArgmaxKeyMap,
    /// <summary>A variable-length <c>Vector&lt;Single&gt;</c> (e.g. segment starts, per-token scores); made by the transformer.</summary>
    VariableScores,
    /// <summary>A variable-length <c>Vector&lt;Key&gt;</c> of <see cref="OutputSpec.Classes"/> (e.g. segment classes); made by the transformer.</summary>
    VariableKeys,
    /// <summary>Text (e.g. a generated answer); made by the transformer.</summary>
    Text,
    /// <summary>One Single per row (a regression score or a reward), produced by the component's Postprocess.</summary>
    Scalar,
}

/// <summary>Activation applied to the source tensor before <see cref="OutputKind.Scores"/> and the argmax kinds.</summary>
public enum OutputActivation
{
    /// <summary>As the network returns it.</summary>
    None,
    /// <summary>Softmax over dimension 1 (classes), e.g. class probabilities.</summary>
    Softmax,
    /// <summary>Element-wise sigmoid (multi-label).</summary>
    Sigmoid,
}

/// <summary>
/// One output column of a fitted model: its name, kind, the network output it comes from (<see cref="Source"/>, a slot
/// of the network's forward) and its geometry. Saved in the model description.
/// </summary>
/// <param name="Column">Output column name.</param>
/// <param name="Kind">How it is derived.</param>
/// <param name="Source">Network output slot.</param>
public sealed record OutputSpec(string Column, OutputKind Kind, string Source)
{
    /// <summary>Dimensions of a <see cref="OutputKind.Scores"/> vector (e.g. [K] or [K, H, W]).</summary>
    public int[] Shape { get; init; } = Array.Empty<int>();
    /// <summary>Key count of key outputs (and of class-score vectors).</summary>
    public int Classes { get; init; }
    /// <summary>Activation before the output is read. Default none.</summary>
    public OutputActivation Activation { get; init; }
    /// <summary>Whether the column carries ML.NET's multiclass score annotations (slot names, score kind) or key values from the class names.</summary>
    public bool ClassAnnotations { get; init; }
}

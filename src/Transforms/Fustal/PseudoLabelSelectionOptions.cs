namespace MLNetExtensions.Transforms.Fustal;

/// <summary>
/// Settings of <see cref="PseudoLabelSelectionTransformer"/> (note fustal.md §4): keep a proposal ⇔ its density
/// <c>d_i ≥ Gamma</c> and its score <c>&gt; Eta</c>. The ablations of the issue: prior off with confidence only =
/// <c>Gamma = 0</c>; no filtering = <c>Gamma = 0, Eta = −∞</c>.
/// </summary>
public sealed record PseudoLabelSelectionOptions
{
    /// <summary>γ, the density threshold. Default 0.2 (official).</summary>
    public double Gamma { get; init; } = 0.2;
    /// <summary>η, the confidence threshold (strict). Default 0.4 (official).</summary>
    public double Eta { get; init; } = 0.4;
    /// <summary>Input proposal starts. Default <c>SegmentStart</c> (the teacher's output).</summary>
    public string InputStartColumnName { get; init; } = "SegmentStart";
    /// <summary>Input proposal ends. Default <c>SegmentEnd</c>.</summary>
    public string InputEndColumnName { get; init; } = "SegmentEnd";
    /// <summary>Input proposal scores. Default <c>SegmentScore</c>.</summary>
    public string InputScoreColumnName { get; init; } = "SegmentScore";
    /// <summary>Input proposal classes (Vector&lt;Key&gt;). Default <c>SegmentLabel</c>.</summary>
    public string InputLabelColumnName { get; init; } = "SegmentLabel";
    /// <summary>Output prefix: columns <c>{prefix}Start</c>, <c>End</c>, <c>Score</c>, <c>Label</c>, and <c>{prefix}Density</c> (d_i of every input proposal). Default <c>Pseudo</c>.</summary>
    public string OutputPrefix { get; init; } = "Pseudo";

    /// <summary>Throws naming the first invalid setting.</summary>
    public void Validate()
    {
        if (double.IsNaN(Gamma)) throw new ArgumentOutOfRangeException(nameof(Gamma), Gamma, "Gamma must be a number.");
        if (double.IsNaN(Eta)) throw new ArgumentOutOfRangeException(nameof(Eta), Eta, "Eta must be a number (−∞ keeps every score).");
        foreach (var (n, v) in new[] { (nameof(InputStartColumnName), InputStartColumnName), (nameof(InputEndColumnName), InputEndColumnName),
                     (nameof(InputScoreColumnName), InputScoreColumnName), (nameof(InputLabelColumnName), InputLabelColumnName), (nameof(OutputPrefix), OutputPrefix) })
            ArgumentException.ThrowIfNullOrWhiteSpace(v, n);
    }

    /// <summary>Output column names: start, end, score, label, density.</summary>
    public string[] OutputColumns => new[] { OutputPrefix + "Start", OutputPrefix + "End", OutputPrefix + "Score", OutputPrefix + "Label", OutputPrefix + "Density" };
}

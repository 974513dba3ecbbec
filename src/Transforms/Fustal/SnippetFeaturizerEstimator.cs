using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Interop;
using MLNetExtensions.Transforms.SqueezeTime;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Fustal;

/// <summary>
/// The estimator of <see cref="SnippetFeaturizerTransformer"/>: the backbone is frozen, so <see cref="Fit"/> only checks
/// the schema and copies the backbone's weights. Create it with <c>mlContext.TemporalLocalization().Transforms.FeaturizeSnippets(...)</c>.
/// </summary>
public sealed class SnippetFeaturizerEstimator : IEstimator<SnippetFeaturizerTransformer>
{
    private readonly nn.Module _backbone;

    /// <summary>Creates the estimator; invalid options or a backbone that is not SqueezeTime throw here.</summary>
    public SnippetFeaturizerEstimator(IHostEnvironment env, SnippetFeaturizerOptions options, nn.Module backbone)
    {
        ArgumentNullException.ThrowIfNull(env);
        Options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
        _backbone = backbone ?? throw new ArgumentNullException(nameof(backbone));
        if (backbone is not SqueezeTimeVideoNetwork)
            throw new ArgumentException($"The snippet featuriser needs a SqueezeTime video network (a model of MulticlassClassification.Trainers.SqueezeTime); got {backbone.GetType().Name}.", nameof(backbone));
    }

    /// <summary>The settings.</summary>
    public SnippetFeaturizerOptions Options { get; }

    private SqueezeTimeArchitecture Spec => ((SqueezeTimeVideoNetwork)_backbone).Spec;

    /// <inheritdoc/>
    public SnippetFeaturizerTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        SnippetFeaturizerTransformer.CheckInput(input.Schema, Options.InputColumnName, 3 * Spec.Height * Spec.Width, Spec.Height, Spec.Width);
        return SnippetFeaturizerTransformer.FromBackbone(Options, _backbone);
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var cols = inputSchema.ToDictionary(c => c.Name);
        if (!cols.TryGetValue(Options.InputColumnName, out var p))
            throw SchemaError.Missing(Options.InputColumnName, "a Vector<Single> of N×3×H×W video frames (LoadVideoFrames with frames: 0)");
        if (p.ItemType != NumberDataViewType.Single || p.Kind == SchemaShape.Column.VectorKind.Scalar)
            throw SchemaError.WrongType(Options.InputColumnName, "a Vector<Single> of N×3×H×W video frames", $"{p.Kind} {p.ItemType}");
        cols[Options.OutputColumnName] = MLNetInternals.MakeColumn(Options.OutputColumnName, SchemaShape.Column.VectorKind.VariableVector, NumberDataViewType.Single, false);
        return new SchemaShape(cols.Values);
    }
}

using Microsoft.ML;
using MLNetExtensions.Core.Models;
using Microsoft.ML.Runtime;
using MLNetExtensions.Transforms.Excp;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Core.Interop;
using MLNetExtensions.Core.Training;

namespace MLNetExtensions.Estimators.Excp;

/// <summary>
/// Pipeline step that serves a chosen step of an ExCP training chain: <c>Fit</c> trains nothing, it decodes the step
/// and returns an <see cref="ExcpCheckpointTransformer"/> (Score, PredictedLabel). The model description is read when
/// the estimator is created, so <see cref="GetOutputSchema"/> works before fitting and a chain without one fails early.
/// </summary>
public sealed class ExcpCheckpointEstimator : IEstimator<ExcpCheckpointTransformer>
{
    private readonly IHostEnvironment _env;
    private readonly ModelDescription? _override;

    /// <summary>Creates the estimator; see <see cref="ExcpCheckpointTransformer.Create"/> for the arguments and errors.</summary>
    public ExcpCheckpointEstimator(IHostEnvironment env, string chainDirectory, long? step = null, ModelDescription? description = null,
        ExcpModelPayload payload = ExcpModelPayload.DecodedWeights, string? device = null, int inferenceBatchSize = 64)
    {
        ArgumentNullException.ThrowIfNull(env);
        _env = env;
        _override = description;
        ChainDirectory = chainDirectory;
        Step = step;
        Payload = payload;
        Device = device;
        InferenceBatchSize = inferenceBatchSize;
        Description = description ?? ExcpCheckpointTransformer.ReadModelCard(chainDirectory, step)?.Description
            ?? throw new InvalidDataException($"ExCP chain '{chainDirectory}' (step {(step is { } s ? s.ToString() : "last")}) carries no model description; pass one.");
    }

    /// <summary>Chain folder.</summary>
    public string ChainDirectory { get; }
    /// <summary>Served step (null = the chain's last step at fitting time).</summary>
    public long? Step { get; }
    /// <summary>What the fitted transformer saves into a model zip.</summary>
    public ExcpModelPayload Payload { get; }
    /// <summary>Device (null = from the MLContext, else CPU).</summary>
    public string? Device { get; }
    /// <summary>Rows per forward pass of the fitted transformer.</summary>
    public int InferenceBatchSize { get; }
    /// <summary>The network's description (from the chain's model card or given).</summary>
    public ModelDescription Description { get; }

    /// <summary>Input columns plus the model's outputs; throws, naming the column, when an input is missing or of the wrong type.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema) => OutputSchemaShape.Append(inputSchema, Description);

    /// <summary>Checks the input columns, decodes the step and returns the transformer (nothing is trained).</summary>
    public ExcpCheckpointTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        foreach (var f in Description.Features) f.Resolve(input.Schema);
        var t = ExcpCheckpointTransformer.Create(_env, ChainDirectory, Step, _override, Payload, Device, InferenceBatchSize);
        try { t.GetOutputSchema(input.Schema); }
        catch { t.Dispose(); throw; }
        return t;
    }
}

/// <summary><c>mlContext.Transforms.LoadExcpCheckpoint(...)</c>.</summary>
public static class ExcpCatalog
{
    /// <summary>
    /// Serves step <paramref name="step"/> (null = last) of the ExCP chain in <paramref name="chainDirectory"/> (the
    /// <c>excp</c> folder of a trainer's <c>CheckpointDirectory</c>) as a classifier: Score and PredictedLabel.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="chainDirectory">Chain folder (holds <c>chain.excpidx</c>).</param>
    /// <param name="step">Training step to serve; null = the last one.</param>
    /// <param name="payload">What a saved model embeds: decoded weights (default) or the chain files themselves.</param>
    /// <param name="description">Network description for chains written without a model card; null = from the chain.</param>
    public static ExcpCheckpointEstimator LoadExcpCheckpoint(this TransformsCatalog catalog, string chainDirectory, long? step = null,
        ExcpModelPayload payload = ExcpModelPayload.DecodedWeights, ModelDescription? description = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new ExcpCheckpointEstimator(MLNetInternals.GetEnvironment(catalog), chainDirectory, step, description, payload);
    }
}

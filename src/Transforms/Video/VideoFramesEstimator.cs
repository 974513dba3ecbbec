using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Interop;

namespace MLNetExtensions.Transforms.Video;

/// <summary>
/// Estimator of <see cref="VideoFramesTransformer"/>: a text column of video paths → a
/// <c>Vector&lt;Single, T, 3, H, W&gt;</c> clip column. Nothing is learned and nothing is decoded at <see cref="Fit"/>;
/// it only checks the schema. Create it with <c>mlContext.Transforms.LoadVideoFrames(...)</c>.
/// </summary>
public sealed class VideoFramesEstimator : IEstimator<VideoFramesTransformer>
{
    private readonly IHostEnvironment _env;

    /// <summary>Creates the estimator.</summary>
    public VideoFramesEstimator(IHostEnvironment env, VideoFramesColumn column)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(column);
        column.Validate();
        _env = env;
        Column = column;
    }

    /// <summary>Columns, clip geometry and folder.</summary>
    public VideoFramesColumn Column { get; }

    /// <inheritdoc/>
    public VideoFramesTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        VideoFramesTransformer.CheckInput(input.Schema, Column.InputColumnName);
        return new VideoFramesTransformer(_env, Column);
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var found = inputSchema.Where(c => c.Name == Column.InputColumnName).ToList();
        if (found.Count == 0) throw SchemaError.Missing(Column.InputColumnName, "a text column of video file paths");
        var col = found[^1];
        if (col.Kind != SchemaShape.Column.VectorKind.Scalar || col.ItemType is not TextDataViewType)
            throw SchemaError.WrongType(Column.InputColumnName, "a text column (String) of video file paths", $"{col.Kind} {col.ItemType}");
        var cols = inputSchema.Where(c => c.Name != Column.OutputColumnName).ToList();
        cols.Add(MLNetInternals.MakeColumn(Column.OutputColumnName,
            Column.Frames == 0 ? SchemaShape.Column.VectorKind.VariableVector : SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false));
        return new SchemaShape(cols);
    }
}

using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Interop;

namespace MLNetExtensions.Core.Training;

/// <summary>The output columns a multiclass trainer promises in <c>GetOutputSchema</c>, annotations included.</summary>
internal static class MulticlassSchemaShape
{
    /// <summary>Input columns plus Score (with score annotations) and PredictedLabel (key with KeyValues).</summary>
    internal static SchemaShape Append(SchemaShape input, string scoreColumn, string predictedLabelColumn)
    {
        var cols = new Dictionary<string, SchemaShape.Column>();
        foreach (var c in input) cols[c.Name] = c;
        var scoreMeta = new SchemaShape(new[]
        {
            MLNetInternals.MakeColumn(ColumnNames.SlotNames, SchemaShape.Column.VectorKind.Vector, TextDataViewType.Instance, false),
            MLNetInternals.MakeColumn(ColumnNames.ScoreColumnKind, SchemaShape.Column.VectorKind.Scalar, TextDataViewType.Instance, false),
            MLNetInternals.MakeColumn(ColumnNames.ScoreValueKind, SchemaShape.Column.VectorKind.Scalar, TextDataViewType.Instance, false),
            MLNetInternals.MakeColumn(ColumnNames.ScoreColumnSetId, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.UInt32, true),
            MLNetInternals.MakeColumn(ColumnNames.TrainingLabelValues, SchemaShape.Column.VectorKind.Vector, TextDataViewType.Instance, false),
        });
        var predMeta = new SchemaShape(new[] { MLNetInternals.MakeColumn(ColumnNames.KeyValues, SchemaShape.Column.VectorKind.Vector, TextDataViewType.Instance, false) });
        cols[scoreColumn] = MLNetInternals.MakeColumn(scoreColumn, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false, scoreMeta);
        cols[predictedLabelColumn] = MLNetInternals.MakeColumn(predictedLabelColumn, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.UInt32, true, predMeta);
        return new SchemaShape(cols.Values);
    }
}

using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Interop;
using MLNetExtensions.Core.Models;

namespace MLNetExtensions.Core.Inference;

/// <summary>The <see cref="SchemaShape"/> columns an estimator promises for its outputs, as the fitted transformer delivers them.</summary>
public static class OutputSchemaShape
{
    /// <summary>The schema-shape column promised for an output (before any data is seen).</summary>
    public static SchemaShape.Column Of(OutputSpec o)
    {
        var keyValues = new SchemaShape(new[] { MLNetInternals.MakeColumn(ColumnNames.KeyValues, SchemaShape.Column.VectorKind.Vector, TextDataViewType.Instance, false) });
        var scoreMeta = new SchemaShape(new[]
        {
            MLNetInternals.MakeColumn(ColumnNames.SlotNames, SchemaShape.Column.VectorKind.Vector, TextDataViewType.Instance, false),
            MLNetInternals.MakeColumn(ColumnNames.ScoreColumnKind, SchemaShape.Column.VectorKind.Scalar, TextDataViewType.Instance, false),
            MLNetInternals.MakeColumn(ColumnNames.ScoreValueKind, SchemaShape.Column.VectorKind.Scalar, TextDataViewType.Instance, false),
            MLNetInternals.MakeColumn(ColumnNames.ScoreColumnSetId, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.UInt32, true),
            MLNetInternals.MakeColumn(ColumnNames.TrainingLabelValues, SchemaShape.Column.VectorKind.Vector, TextDataViewType.Instance, false),
        });
        return o.Kind switch
        {
            OutputKind.Scores => MLNetInternals.MakeColumn(o.Column, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false, o.ClassAnnotations ? scoreMeta : null),
            OutputKind.ArgmaxKey => MLNetInternals.MakeColumn(o.Column, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.UInt32, true, o.ClassAnnotations ? keyValues : null),
            OutputKind.ArgmaxKeyMap => MLNetInternals.MakeColumn(o.Column, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.UInt32, true, o.ClassAnnotations ? keyValues : null),
            OutputKind.VariableScores => MLNetInternals.MakeColumn(o.Column, SchemaShape.Column.VectorKind.VariableVector, NumberDataViewType.Single, false),
            OutputKind.VariableKeys => MLNetInternals.MakeColumn(o.Column, SchemaShape.Column.VectorKind.VariableVector, NumberDataViewType.UInt32, true, o.ClassAnnotations ? keyValues : null),
            OutputKind.Text => MLNetInternals.MakeColumn(o.Column, SchemaShape.Column.VectorKind.Scalar, TextDataViewType.Instance, false),
            OutputKind.Scalar => MLNetInternals.MakeColumn(o.Column, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.Single, false),
            _ => throw new NotSupportedException(o.Kind.ToString()),
        };
    }

    /// <summary>Checks every feature input of <paramref name="description"/> in <paramref name="input"/> and appends its outputs.</summary>
    public static SchemaShape Append(SchemaShape input, ModelDescription description)
    {
        foreach (var s in description.Features) s.Check(input);
        var cols = input.ToDictionary(c => c.Name);
        foreach (var o in description.Outputs) cols[o.Column] = Of(o);
        return new SchemaShape(cols.Values);
    }
}

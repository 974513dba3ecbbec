using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Core.Data;

/// <summary>
/// A row (row-to-row mapper, PredictionEngine path) whose schema is the input's plus appended columns: input columns
/// pass through, appended ones come from <see cref="GetOutputGetter{TValue}"/>.
/// </summary>
public abstract class AppendedColumnsRow : DataViewRow
{
    private readonly DataViewSchema _schema, _inputSchema;
    private readonly HashSet<int> _active;

    /// <summary>Wraps <paramref name="input"/>; <paramref name="active"/> are indices in <paramref name="schema"/>.</summary>
    protected AppendedColumnsRow(DataViewSchema schema, DataViewSchema inputSchema, DataViewRow input, HashSet<int> active)
    {
        _schema = schema; _inputSchema = inputSchema; Input = input; _active = active;
    }

    /// <summary>The input row.</summary>
    protected DataViewRow Input { get; }
    /// <summary>Whether any appended column is active.</summary>
    protected bool AnyOutputActive => _active.Any(i => i >= _inputSchema.Count);

    public override DataViewSchema Schema => _schema;
    public override long Position => Input.Position;
    public override long Batch => Input.Batch;
    public override ValueGetter<DataViewRowId> GetIdGetter() => Input.GetIdGetter();
    public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) =>
        column.Index < _inputSchema.Count ? Input.GetGetter<TValue>(_inputSchema[column.Index]) : GetOutputGetter<TValue>(column, column.Index - _inputSchema.Count);

    /// <summary>The getter of appended column number <paramref name="output"/> (0-based among the appended ones).</summary>
    protected abstract ValueGetter<TValue> GetOutputGetter<TValue>(DataViewSchema.Column column, int output);
}

/// <summary>The cursor counterpart of <see cref="AppendedColumnsRow"/> (Transform path); disposing it disposes its input cursor.</summary>
public abstract class AppendedColumnsCursor : DataViewRowCursor
{
    private readonly DataViewSchema _schema, _inputSchema;
    private readonly HashSet<int> _active;

    /// <summary>Wraps <paramref name="input"/>; <paramref name="active"/> are indices in <paramref name="schema"/>.</summary>
    protected AppendedColumnsCursor(DataViewSchema schema, DataViewSchema inputSchema, DataViewRowCursor input, HashSet<int> active)
    {
        _schema = schema; _inputSchema = inputSchema; Input = input; _active = active;
    }

    /// <summary>The input cursor (pass-through columns).</summary>
    protected DataViewRowCursor Input { get; }

    public override DataViewSchema Schema => _schema;
    public override long Position => Input.Position;
    public override long Batch => Input.Batch;
    public override ValueGetter<DataViewRowId> GetIdGetter() => Input.GetIdGetter();
    public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);

    public override bool MoveNext()
    {
        if (!Input.MoveNext()) return false;
        OnMoved();
        return true;
    }

    /// <summary>Called after the input moved to its next row (e.g. to read ahead a batch).</summary>
    protected abstract void OnMoved();

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) =>
        column.Index < _inputSchema.Count ? Input.GetGetter<TValue>(_inputSchema[column.Index]) : GetOutputGetter<TValue>(column, column.Index - _inputSchema.Count);

    /// <summary>The getter of appended column number <paramref name="output"/>.</summary>
    protected abstract ValueGetter<TValue> GetOutputGetter<TValue>(DataViewSchema.Column column, int output);

    protected override void Dispose(bool disposing)
    {
        if (disposing) Input.Dispose();
        base.Dispose(disposing);
    }
}

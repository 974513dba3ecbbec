using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace MLNetExtensions.Core.Data;

/// <summary>
/// The plumbing of a transform that appends columns computed row by row from a few input columns, lazily: the output
/// schema (input + appended), <c>Transform</c> as a streaming view (the source columns are read only when an appended
/// column is requested), <c>GetRowToRowMapper</c> for <c>PredictionEngine</c>, and saving through
/// <see cref="SaveModel"/>. A derived transform says which columns it reads (<see cref="SourceColumns"/>), which it
/// appends (<see cref="AddOutputColumns"/>, which also checks the input) and how one row's values are computed
/// (<see cref="MakeGetters"/>); it may override <see cref="CreateCursor"/> to read ahead.
/// </summary>
public abstract class AppendedColumnsTransformer : ITransformer
{
    /// <inheritdoc/>
    public bool IsRowToRowMapper => true;

    /// <summary>The input columns every appended column is computed from.</summary>
    protected abstract string[] SourceColumns { get; }

    /// <summary>Checks <paramref name="input"/> (throwing naming the column) and adds the appended columns to <paramref name="builder"/>.</summary>
    protected abstract void AddOutputColumns(DataViewSchema input, DataViewSchema.Builder builder);

    /// <summary>The getters of the appended columns over one input row (called once per cursor or row, only when one is active).</summary>
    protected abstract RowGetters MakeGetters(DataViewRow input);

    /// <summary>Writes the model (ML.NET's <c>ICanSaveModel.Save</c>).</summary>
    protected abstract void SaveModel(ModelSaveContext ctx);

    void ICanSaveModel.Save(ModelSaveContext ctx) => SaveModel(ctx);

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var b = new DataViewSchema.Builder();
        b.AddColumns(inputSchema);
        AddOutputColumns(inputSchema, b);
        return b.ToSchema();
    }

    /// <inheritdoc/>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new View(this, input);
    }

    /// <inheritdoc/>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return new Mapper(this, inputSchema);
    }

    /// <summary>
    /// One cursor of the Transform view over <paramref name="input"/>, reading <paramref name="upstream"/> in
    /// <paramref name="rand"/>'s order; <paramref name="active"/> are indices in <paramref name="schema"/>.
    /// The default wraps one input cursor; override to add e.g. a read-ahead cursor.
    /// </summary>
    protected virtual DataViewRowCursor CreateCursor(IDataView input, DataViewSchema schema, IReadOnlyList<DataViewSchema.Column> upstream,
        HashSet<int> active, bool anyOutput, Random? rand) =>
        new Cursor(this, schema, input.Schema, input.GetRowCursor(upstream, rand), active, anyOutput);

    /// <summary>The getters of one row's appended columns; <c>output</c> is the 0-based index among the appended ones.</summary>
    public abstract class RowGetters
    {
        /// <summary>The typed getter of appended column <paramref name="output"/>.</summary>
        public abstract ValueGetter<TValue> Getter<TValue>(DataViewSchema.Column column, int output);
    }

    /// <summary>
    /// The getters of a transform that appends one Vector&lt;Single&gt; column computed from one input column of type
    /// <typeparamref name="TIn"/>: computed once per row position (several getter calls on one row, e.g. a cache and a
    /// trainer, compute once) and handed out as copies. <c>compute</c> gets the input value and the row position.
    /// </summary>
    protected sealed class CachedVectorGetters<TIn> : RowGetters
    {
        private readonly ValueGetter<VBuffer<float>> _get;

        /// <summary>Getters over <paramref name="row"/> reading <paramref name="inputColumn"/>.</summary>
        public CachedVectorGetters(DataViewRow row, string inputColumn, Func<TIn, long, float[]> compute)
        {
            var getter = row.GetGetter<TIn>(row.Schema[inputColumn]);
            TIn value = default!;
            float[] cached = Array.Empty<float>();
            long position = -1;
            _get = (ref VBuffer<float> dst) =>
            {
                if (position != row.Position || position < 0)
                {
                    getter(ref value);
                    cached = compute(value, row.Position);
                    position = row.Position;
                }
                CopyTo<float>(cached, ref dst);
            };
        }

        /// <inheritdoc/>
        public override ValueGetter<TValue> Getter<TValue>(DataViewSchema.Column column, int output) => Typed<TValue, VBuffer<float>>(_get, column);
    }

    /// <summary>Casts <paramref name="getter"/> to the requested value type; errors name the column and both types.</summary>
    protected static ValueGetter<TValue> Typed<TValue, TActual>(ValueGetter<TActual> getter, DataViewSchema.Column column)
    {
        if (typeof(TValue) != typeof(TActual))
            throw new InvalidOperationException($"Column '{column.Name}' is {column.Type}; asked for {typeof(TValue).Name}.");
        return (ValueGetter<TValue>)(Delegate)getter;
    }

    /// <summary>Copies <paramref name="src"/> into <paramref name="dst"/> (reusing its buffer).</summary>
    protected static void CopyTo<T>(ReadOnlySpan<T> src, ref VBuffer<T> dst)
    {
        var editor = VBufferEditor.Create(ref dst, src.Length);
        src.CopyTo(editor.Values);
        dst = editor.Commit();
    }

    /// <summary>The input columns a set of requested output columns needs.</summary>
    private List<DataViewSchema.Column> Upstream(DataViewSchema input, IEnumerable<DataViewSchema.Column> needed) =>
        AppendedColumns.Dependencies(input, needed, SourceColumns).ToList();

    /// <summary>A Transform cursor: pass-through input columns, appended ones from <see cref="MakeGetters"/>.</summary>
    protected class Cursor : AppendedColumnsCursor
    {
        private readonly RowGetters? _getters;

        /// <summary>Wraps <paramref name="input"/>; getters are made only when an appended column is active.</summary>
        public Cursor(AppendedColumnsTransformer owner, DataViewSchema schema, DataViewSchema inputSchema, DataViewRowCursor input, HashSet<int> active, bool anyOutput)
            : base(schema, inputSchema, input, active)
        {
            _getters = anyOutput ? owner.MakeGetters(input) : null;
        }

        /// <inheritdoc/>
        protected override void OnMoved() { }

        /// <inheritdoc/>
        protected override ValueGetter<TValue> GetOutputGetter<TValue>(DataViewSchema.Column column, int output) =>
            (_getters ?? throw new InvalidOperationException($"Column '{column.Name}' was not requested when the cursor was created.")).Getter<TValue>(column, output);
    }

    private sealed class View : IDataView
    {
        private readonly AppendedColumnsTransformer _owner;
        private readonly IDataView _input;

        public View(AppendedColumnsTransformer owner, IDataView input)
        {
            _owner = owner; _input = input; Schema = owner.GetOutputSchema(input.Schema);
        }

        public bool CanShuffle => _input.CanShuffle;
        public DataViewSchema Schema { get; }
        public long? GetRowCount() => _input.GetRowCount();

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        {
            var needed = columnsNeeded.ToList();
            var active = needed.Select(c => c.Index).ToHashSet();
            return _owner.CreateCursor(_input, Schema, _owner.Upstream(_input.Schema, needed), active, active.Any(i => i >= _input.Schema.Count), rand);
        }

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        {
            var needed = columnsNeeded.ToList();
            if (n <= 1) return new[] { GetRowCursor(needed, rand) };
            var active = needed.Select(c => c.Index).ToHashSet();
            bool any = active.Any(i => i >= _input.Schema.Count);
            return _input.GetRowCursorSet(_owner.Upstream(_input.Schema, needed), n, rand)
                .Select(c => (DataViewRowCursor)new Cursor(_owner, Schema, _input.Schema, c, active, any)).ToArray();
        }
    }

    private sealed class Mapper : IRowToRowMapper
    {
        private readonly AppendedColumnsTransformer _owner;

        public Mapper(AppendedColumnsTransformer owner, DataViewSchema input)
        {
            _owner = owner; InputSchema = input; OutputSchema = owner.GetOutputSchema(input);
        }

        public DataViewSchema InputSchema { get; }
        public DataViewSchema OutputSchema { get; }

        public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns) =>
            _owner.Upstream(InputSchema, dependingColumns);

        public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns) =>
            new Row(this, input, activeColumns.Select(c => c.Index).ToHashSet());

        private sealed class Row : AppendedColumnsRow
        {
            private readonly RowGetters? _getters;

            public Row(Mapper m, DataViewRow input, HashSet<int> active) : base(m.OutputSchema, m.InputSchema, input, active)
            {
                _getters = AnyOutputActive ? m._owner.MakeGetters(input) : null;
            }

            protected override ValueGetter<TValue> GetOutputGetter<TValue>(DataViewSchema.Column column, int output) =>
                (_getters ?? throw new InvalidOperationException($"Column '{column.Name}' is not active in this row.")).Getter<TValue>(column, output);
        }
    }
}

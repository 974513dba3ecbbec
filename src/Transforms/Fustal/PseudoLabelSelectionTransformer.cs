using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Interop;

namespace MLNetExtensions.Transforms.Fustal;

/// <summary>
/// FuSTAL's selection stage as an ML.NET transform (note fustal.md §4): per video row, reads the teacher's proposals
/// (parallel vectors of starts, ends, scores and class keys), computes every proposal's density over all classes of the
/// video pooled, and appends the kept pseudo segments (<c>PseudoStart/End/Score/Label</c>, same key type and key values
/// as the input classes) and the densities of all input proposals (<c>PseudoDensity</c>). No training: the estimator's
/// Fit only checks the schema. Lazy, row by row; <c>PredictionEngine</c> and <c>Save/Load</c> work.
/// </summary>
public sealed class PseudoLabelSelectionTransformer : AppendedColumnsTransformer
{
    internal const string LoaderSignature = "MLNetExtFustalSelect";
    private static readonly MLNetInternals.ModelVersion Version = new("MLXTFSEL", 0x00010001, 0x00010001, 0x00010001, LoaderSignature);

    /// <summary>Creates the transform.</summary>
    public PseudoLabelSelectionTransformer(IHostEnvironment env, PseudoLabelSelectionOptions options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
    }

    /// <summary>γ, η and the columns.</summary>
    public PseudoLabelSelectionOptions Options { get; }

    /// <inheritdoc/>
    protected override string[] SourceColumns => new[] { Options.InputStartColumnName, Options.InputEndColumnName, Options.InputScoreColumnName, Options.InputLabelColumnName };

    /// <summary>Checks the four proposal columns (three Vector&lt;Single&gt;, one Vector&lt;Key&lt;UInt32&gt;&gt;); returns the label column.</summary>
    internal static DataViewSchema.Column Check(DataViewSchema schema, PseudoLabelSelectionOptions o)
    {
        foreach (var name in new[] { o.InputStartColumnName, o.InputEndColumnName, o.InputScoreColumnName })
        {
            var c = schema.GetColumnOrNull(name) ?? throw SchemaError.Missing(name, "a Vector<Single> of proposal values (one per proposal)");
            if (c.Type is not VectorDataViewType { ItemType: NumberDataViewType n } || n != NumberDataViewType.Single)
                throw SchemaError.WrongType(name, "a Vector<Single> of proposal values", c.Type);
        }
        var l = schema.GetColumnOrNull(o.InputLabelColumnName) ?? throw SchemaError.Missing(o.InputLabelColumnName, "a Vector<Key<UInt32>> of proposal classes");
        if (l.Type is not VectorDataViewType { ItemType: KeyDataViewType k } || k.RawType != typeof(uint))
            throw SchemaError.WrongType(o.InputLabelColumnName, "a Vector<Key<UInt32>> of proposal classes", l.Type);
        return l;
    }

    /// <inheritdoc/>
    protected override void AddOutputColumns(DataViewSchema input, DataViewSchema.Builder b)
    {
        var label = Check(input, Options);
        var names = Options.OutputColumns;
        var floats = new VectorDataViewType(NumberDataViewType.Single);
        b.AddColumn(names[0], floats);
        b.AddColumn(names[1], floats);
        b.AddColumn(names[2], floats);
        b.AddColumn(names[3], new VectorDataViewType(((VectorDataViewType)label.Type).ItemType), label.Annotations);
        b.AddColumn(names[4], floats);
    }

    /// <inheritdoc/>
    protected override RowGetters MakeGetters(DataViewRow input) => new RowSelection(this, input);

    /// <summary>Selection of one row, computed once per row position and shared by the five getters.</summary>
    private sealed class RowSelection : RowGetters
    {
        private readonly PseudoLabelSelectionTransformer _p;
        private readonly DataViewRow _row;
        private readonly ValueGetter<VBuffer<float>> _s, _e, _sc;
        private readonly ValueGetter<VBuffer<uint>> _l;
        private VBuffer<float> _bs, _be, _bsc; private VBuffer<uint> _bl;
        private long _position = -1;
        private float[][] _floats = Array.Empty<float[]>();
        private uint[] _labels = Array.Empty<uint>();

        public RowSelection(PseudoLabelSelectionTransformer p, DataViewRow row)
        {
            _p = p; _row = row;
            var o = p.Options;
            _s = row.GetGetter<VBuffer<float>>(row.Schema[o.InputStartColumnName]);
            _e = row.GetGetter<VBuffer<float>>(row.Schema[o.InputEndColumnName]);
            _sc = row.GetGetter<VBuffer<float>>(row.Schema[o.InputScoreColumnName]);
            _l = row.GetGetter<VBuffer<uint>>(row.Schema[o.InputLabelColumnName]);
        }

        private void Compute()
        {
            if (_position == _row.Position && _position >= 0) return;
            _s(ref _bs); _e(ref _be); _sc(ref _bsc); _l(ref _bl);
            var o = _p.Options;
            var (s, e, sc, l) = (_bs.DenseValues().ToArray(), _be.DenseValues().ToArray(), _bsc.DenseValues().ToArray(), _bl.DenseValues().ToArray());
            if (e.Length != s.Length || sc.Length != s.Length || l.Length != s.Length)
                throw new InvalidOperationException($"Row {_row.Position}: columns '{o.InputStartColumnName}', '{o.InputEndColumnName}', '{o.InputScoreColumnName}', '{o.InputLabelColumnName}' hold {s.Length}, {e.Length}, {sc.Length}, {l.Length} values; one per proposal expected.");
            var props = new List<TemporalProposal>(s.Length);
            for (int i = 0; i < s.Length; i++)
            {
                if (l[i] == 0) throw new InvalidOperationException($"Row {_row.Position}: column '{o.InputLabelColumnName}' has a missing class key at proposal {i}.");
                props.Add(new TemporalProposal((int)l[i] - 1, sc[i], s[i], e[i]));
            }
            var d = PseudoLabelSelection.Densities(props);
            var keep = Enumerable.Range(0, props.Count).Where(i => d[i] >= o.Gamma && props[i].Score > o.Eta).ToArray();
            _floats = new[]
            {
                keep.Select(i => s[i]).ToArray(), keep.Select(i => e[i]).ToArray(), keep.Select(i => sc[i]).ToArray(), d.Select(x => (float)x).ToArray(),
            };
            _labels = keep.Select(i => l[i]).ToArray();
            _position = _row.Position;
        }

        public override ValueGetter<TValue> Getter<TValue>(DataViewSchema.Column column, int output)
        {
            if (output == 3)
                return Typed<TValue, VBuffer<uint>>((ref VBuffer<uint> dst) => { Compute(); CopyTo<uint>(_labels, ref dst); }, column);
            int slot = output == 4 ? 3 : output;
            return Typed<TValue, VBuffer<float>>((ref VBuffer<float> dst) => { Compute(); CopyTo<float>(_floats[slot], ref dst); }, column);
        }
    }

    // ---- persistence --------------------------------------------------------------------------------------------
    /// <inheritdoc/>
    protected override void SaveModel(ModelSaveContext ctx) =>
        MLNetInternals.SaveJson(ctx, Version, typeof(PseudoLabelSelectionTransformer), Options);

    /// <summary>ML.NET's loader entry (<c>SignatureLoadModel</c>); <paramref name="ctx"/> is its ModelLoadContext.</summary>
    private static PseudoLabelSelectionTransformer Create(IHostEnvironment env, object ctx)
    {
        var o = MLNetInternals.LoadJson<PseudoLabelSelectionOptions>(ctx, Version, typeof(PseudoLabelSelectionTransformer), "pseudo-label selection");
        return new PseudoLabelSelectionTransformer(env, o);
    }

    internal static void RegisterLoader(ComponentCatalog catalog) =>
        MLNetInternals.RegisterCreateLoader(catalog, typeof(PseudoLabelSelectionTransformer), LoaderSignature);
}

/// <summary>The estimator of <see cref="PseudoLabelSelectionTransformer"/> (nothing to learn: Fit checks the schema).</summary>
public sealed class PseudoLabelSelectionEstimator : IEstimator<PseudoLabelSelectionTransformer>
{
    private readonly IHostEnvironment _env;

    /// <summary>Creates the estimator; invalid options throw here.</summary>
    public PseudoLabelSelectionEstimator(IHostEnvironment env, PseudoLabelSelectionOptions options)
    {
        _env = env ?? throw new ArgumentNullException(nameof(env));
        Options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
    }

    /// <summary>γ, η and the columns.</summary>
    public PseudoLabelSelectionOptions Options { get; }

    /// <inheritdoc/>
    public PseudoLabelSelectionTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        PseudoLabelSelectionTransformer.Check(input.Schema, Options);
        return new PseudoLabelSelectionTransformer(_env, Options);
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var cols = inputSchema.ToDictionary(c => c.Name);
        var o = Options;
        foreach (var n in new[] { o.InputStartColumnName, o.InputEndColumnName, o.InputScoreColumnName, o.InputLabelColumnName })
            if (!cols.ContainsKey(n)) throw SchemaError.Missing(n, "a proposal column (Vector<Single> of starts, ends, scores; Vector<Key> of classes)");
        var label = cols[o.InputLabelColumnName];
        if (!label.IsKey || label.Kind == SchemaShape.Column.VectorKind.Scalar) throw SchemaError.WrongType(label.Name, "a Vector<Key<UInt32>> of proposal classes", $"{label.Kind} {label.ItemType}");
        var names = o.OutputColumns;
        var vec = SchemaShape.Column.VectorKind.VariableVector;
        foreach (var i in new[] { 0, 1, 2, 4 }) cols[names[i]] = MLNetInternals.MakeColumn(names[i], vec, NumberDataViewType.Single, false);
        cols[names[3]] = MLNetInternals.MakeColumn(names[3], vec, label.ItemType, true, label.Annotations);
        return new SchemaShape(cols.Values);
    }
}

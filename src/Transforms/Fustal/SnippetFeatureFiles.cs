using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Interop;
using MLNetExtensions.Core.IO;

namespace MLNetExtensions.Transforms.Fustal;

/// <summary>What a <see cref="SnippetFeatureFilesTransformer"/> reads: a path column of per-video <c>.npy</c> files of shape T×D.</summary>
/// <param name="OutputColumnName">Feature-sequence column added: Vector&lt;Single&gt; of T·D values, snippet-major (the teacher's and student's <c>Features</c>).</param>
/// <param name="InputColumnName">Text column of <c>.npy</c> paths (one video per row).</param>
/// <param name="FeatureSize">D, the values per snippet every file must have (e.g. 2048 for two-stream I3D).</param>
/// <param name="Folder">Folder that relative paths resolve against; null = the current directory.</param>
public sealed record SnippetFeatureFilesColumn(string OutputColumnName, string InputColumnName, int FeatureSize, string? Folder = null)
{
    /// <summary>Checks names and sizes; throws naming the bad value.</summary>
    public void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(OutputColumnName, nameof(OutputColumnName));
        ArgumentException.ThrowIfNullOrWhiteSpace(InputColumnName, nameof(InputColumnName));
        ArgumentOutOfRangeException.ThrowIfLessThan(FeatureSize, 1, nameof(FeatureSize));
    }
}

/// <summary>
/// Loads per-video snippet features from NumPy <c>.npy</c> files named in a text column — the I3D/TSN feature files
/// weakly-supervised localisation datasets ship (one T×D float array per video) — as a variable-length
/// <c>Vector&lt;Single&gt;</c> of T·D values, the layout <c>FustalTeacher</c>/<c>FustalStudent</c> read.
/// </summary>
/// <remarks>
/// Lazy: a file is read when its row's feature getter is called, once per row and cursor; put
/// <c>.AppendCacheCheckpoint(mlContext)</c> after it when training several epochs. Accepted: C-order, 2-D (T ≥ 1, D =
/// <see cref="SnippetFeatureFilesColumn.FeatureSize"/>) float32, float64 or float16 arrays. Errors name the column, the
/// row and the file: <see cref="FileNotFoundException"/> for a missing file; <see cref="InvalidDataException"/> for a
/// file that is not .npy, has another shape or rank, an integer/bool dtype, or non-finite values.
/// Round-trips through <c>mlContext.Model.Save/Load</c>; <c>PredictionEngine</c> works.
/// </remarks>
public sealed class SnippetFeatureFilesTransformer : AppendedColumnsTransformer
{
    internal const string LoaderSignature = "MLNetExtSnippetNpy";
    private static readonly MLNetInternals.ModelVersion Version = new("MLXTSNPY", 0x00010001, 0x00010001, 0x00010001, LoaderSignature);
    private static readonly HashSet<string> FloatDtypes = new() { "<f4", "<f8", "<f2" };

    /// <summary>Creates the transform (no file is read here).</summary>
    public SnippetFeatureFilesTransformer(IHostEnvironment env, SnippetFeatureFilesColumn column)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(column);
        column.Validate();
        Column = column;
    }

    /// <summary>Columns, D and folder.</summary>
    public SnippetFeatureFilesColumn Column { get; }

    /// <inheritdoc/>
    protected override string[] SourceColumns => new[] { Column.InputColumnName };

    /// <summary>Checks that the path column exists and is text.</summary>
    internal static void CheckInput(DataViewSchema schema, string column)
    {
        var col = schema.GetColumnOrNull(column) ?? throw SchemaError.Missing(column, "a text column of .npy feature file paths");
        if (col.Type is not TextDataViewType) throw SchemaError.WrongType(column, "a text column (String) of .npy feature file paths", col.Type);
    }

    /// <inheritdoc/>
    protected override void AddOutputColumns(DataViewSchema input, DataViewSchema.Builder builder)
    {
        CheckInput(input, Column.InputColumnName);
        builder.AddColumn(Column.OutputColumnName, new VectorDataViewType(NumberDataViewType.Single));
    }

    /// <summary>Reads one video's features (T·D values, snippet-major); errors name the column, row and file.</summary>
    public float[] Read(string pathText, long row = -1)
    {
        var where = row >= 0 ? $"Column '{Column.InputColumnName}', row {row}" : $"Column '{Column.InputColumnName}'";
        var raw = pathText.Trim();
        if (raw.Length == 0) throw new InvalidDataException($"{where}: the feature file path is empty.");
        var path = Column.Folder is { Length: > 0 } f && !Path.IsPathRooted(raw) ? Path.Combine(f, raw) : raw;
        if (!File.Exists(path)) throw new FileNotFoundException($"{where}: feature file not found: '{path}'.", path);
        NpyArray a;
        try { a = Npy.Read(path); }
        catch (Exception e) when (e is FormatException or IOException or OverflowException or ArgumentException)
        { throw new InvalidDataException($"{where}: '{path}' is not a readable .npy file: {e.Message}", e); }
        if (!FloatDtypes.Contains(a.Dtype))
            throw new InvalidDataException($"{where}: '{path}' holds dtype '{a.Dtype}'; snippet features must be float32, float64 or float16.");
        if (a.Shape.Length != 2 || a.Shape[0] < 1 || a.Shape[1] != Column.FeatureSize)
            throw new InvalidDataException($"{where}: '{path}' has shape ({string.Join(", ", a.Shape)}); expected (T, {Column.FeatureSize}) with T ≥ 1 snippets.");
        if ((long)a.Shape[0] * a.Shape[1] > int.MaxValue) throw new InvalidDataException($"{where}: '{path}' is too large for one vector.");
        var v = a.ToFloat();
        for (int i = 0; i < v.Length; i++)
            if (!float.IsFinite(v[i])) throw new InvalidDataException($"{where}: '{path}' has a non-finite value at snippet {i / Column.FeatureSize}, channel {i % Column.FeatureSize}.");
        return v;
    }

    /// <inheritdoc/>
    protected override RowGetters MakeGetters(DataViewRow input) =>
        new CachedVectorGetters<ReadOnlyMemory<char>>(input, Column.InputColumnName, (path, row) => Read(path.ToString(), row));

    /// <inheritdoc/>
    protected override void SaveModel(ModelSaveContext ctx) =>
        MLNetInternals.SaveJson(ctx, Version, typeof(SnippetFeatureFilesTransformer), Column);

    /// <summary>ML.NET's loader entry (<c>SignatureLoadModel</c>); <paramref name="ctx"/> is its ModelLoadContext.</summary>
    private static SnippetFeatureFilesTransformer Create(IHostEnvironment env, object ctx)
    {
        var column = MLNetInternals.LoadJson<SnippetFeatureFilesColumn>(ctx, Version, typeof(SnippetFeatureFilesTransformer), "snippet-feature loader");
        return new SnippetFeatureFilesTransformer(env, column);
    }

    internal static void RegisterLoader(ComponentCatalog catalog) =>
        MLNetInternals.RegisterCreateLoader(catalog, typeof(SnippetFeatureFilesTransformer), LoaderSignature);
}

/// <summary>The estimator of <see cref="SnippetFeatureFilesTransformer"/> (nothing to learn: Fit checks the schema).</summary>
public sealed class SnippetFeatureFilesEstimator : IEstimator<SnippetFeatureFilesTransformer>
{
    private readonly IHostEnvironment _env;

    /// <summary>Creates the estimator; invalid options throw here.</summary>
    public SnippetFeatureFilesEstimator(IHostEnvironment env, SnippetFeatureFilesColumn column)
    {
        _env = env ?? throw new ArgumentNullException(nameof(env));
        Column = column ?? throw new ArgumentNullException(nameof(column));
        column.Validate();
    }

    /// <summary>Columns, D and folder.</summary>
    public SnippetFeatureFilesColumn Column { get; }

    /// <inheritdoc/>
    public SnippetFeatureFilesTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        SnippetFeatureFilesTransformer.CheckInput(input.Schema, Column.InputColumnName);
        return new SnippetFeatureFilesTransformer(_env, Column);
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var cols = inputSchema.ToDictionary(c => c.Name);
        if (!cols.TryGetValue(Column.InputColumnName, out var p)) throw SchemaError.Missing(Column.InputColumnName, "a text column of .npy feature file paths");
        if (p.ItemType is not TextDataViewType || p.Kind != SchemaShape.Column.VectorKind.Scalar)
            throw SchemaError.WrongType(Column.InputColumnName, "a text column (String) of .npy feature file paths", $"{p.Kind} {p.ItemType}");
        cols[Column.OutputColumnName] = MLNetInternals.MakeColumn(Column.OutputColumnName, SchemaShape.Column.VectorKind.VariableVector, NumberDataViewType.Single, false);
        return new SchemaShape(cols.Values);
    }
}

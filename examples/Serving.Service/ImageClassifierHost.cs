using Microsoft.Extensions.ObjectPool;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Inference;

namespace MLNetExtensions.Examples.Serving;

/// <summary>One row in: the uploaded image under the model's image column name.</summary>
public sealed class ImageRow
{
    /// <summary>The decoded upload (the attribute makes ML.NET map MLImage; the size is replaced by the model's).</summary>
    [ImageType(1, 1)]
    public MLImage? Image { get; set; }
}

/// <summary>One row out: the suite's classifier columns.</summary>
public sealed class ScoreRow
{
    /// <summary>Class probabilities.</summary>
    public float[] Score { get; set; } = Array.Empty<float>();
    /// <summary>1-based key of the predicted class.</summary>
    public uint PredictedLabel { get; set; }
}

/// <summary>The answer of <c>POST /predict</c>.</summary>
public sealed record Prediction(string Label, int ClassIndex, IReadOnlyDictionary<string, float> Scores);

/// <summary>
/// A saved image-classifier zip loaded once, served through a pool of <see cref="PredictionEngine{TSrc,TDst}"/>s:
/// an engine is not thread-safe, the model is; the pool (Microsoft.Extensions.ObjectPool) hands each request its own
/// engine and keeps up to <c>poolSize</c> for reuse. Engines never dispose the shared model (issue 13.1).
/// </summary>
public sealed class ImageClassifierHost : IDisposable
{
    private readonly MLContext _ml;
    private readonly ITransformer _model;
    private readonly DefaultObjectPool<PredictionEngine<ImageRow, ScoreRow>> _pool;
    private int _disposed;

    /// <summary>Loads <paramref name="modelPath"/> and checks it is an image classifier.</summary>
    public ImageClassifierHost(string modelPath, int poolSize = 16)
    {
        if (!File.Exists(modelPath)) throw new FileNotFoundException($"Model zip '{modelPath}' does not exist.", modelPath);
        _ml = new MLContext(seed: 0).RegisterMLNetExtensions();
        _model = _ml.Model.Load(modelPath, out var inputSchema);
        ModelPath = modelPath;
        // ML.NET does not store image column types in a saved input schema; the suite's model description has them.
        var spec = (_model as IEnumerable<ITransformer> ?? new[] { _model }).OfType<TorchTransformerBase>()
            .SelectMany(t => t.Description.Inputs).OfType<ImageInputSpec>().FirstOrDefault(s => !s.IsVector)
            ?? throw new InvalidDataException($"Model '{modelPath}' reads no image column; this service serves the suite's image classifiers.");
        ImageColumn = spec.Column;
        var imageType = inputSchema.GetColumnOrNull(ImageColumn)?.Type as ImageDataViewType
            ?? new ImageDataViewType(spec.Height ?? 1, spec.Width ?? 1);
        RegisterImageType(imageType);
        var probe = SchemaDefinition.Create(typeof(ImageRow));
        probe[nameof(ImageRow.Image)].ColumnName = ImageColumn;
        probe[nameof(ImageRow.Image)].ColumnType = imageType;
        var output = _model.GetOutputSchema(_ml.Data.LoadFromEnumerable(Array.Empty<ImageRow>(), probe).Schema);
        if (output.GetColumnOrNull("Score") is not { } score || output.GetColumnOrNull("PredictedLabel") is not { } predicted)
            throw new InvalidDataException($"Model '{modelPath}' has no Score/PredictedLabel columns; it is not a classifier.");
        ClassNames = KeyNames(predicted) ?? Enumerable.Range(1, ((VectorDataViewType)score.Type).Size).Select(i => i.ToString()).ToArray();
        _pool = new DefaultObjectPool<PredictionEngine<ImageRow, ScoreRow>>(new EnginePolicy(_ml, _model, probe), poolSize);
    }

    /// <summary>The served zip.</summary>
    public string ModelPath { get; }
    /// <summary>The model's image input column.</summary>
    public string ImageColumn { get; }
    /// <summary>Class names in key order.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Classifies one decoded image (thread-safe).</summary>
    public Prediction Predict(MLImage image)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var engine = _pool.Get();
        try
        {
            var r = engine.Predict(new ImageRow { Image = image });
            int k = (int)r.PredictedLabel - 1;
            return new Prediction(k >= 0 && k < ClassNames.Count ? ClassNames[k] : "?", k,
                ClassNames.Select((n, i) => (n, i)).ToDictionary(t => t.n, t => r.Score[t.i]));
        }
        finally { _pool.Return(engine); }
    }

    /// <summary>
    /// ML.NET maps MLImage members through types registered per size (normally by a compile-time
    /// <c>[ImageType(h, w)]</c>); the served model's size is known only at run time, so it is registered here.
    /// </summary>
    private static readonly HashSet<(int, int)> Registered = new() { (1, 1) }; // (1, 1): ImageRow's own attribute

    public static void RegisterImageType(ImageDataViewType type)
    {
        lock (Registered)
            if (Registered.Add((type.Height, type.Width)))
                DataViewTypeManager.Register(type, typeof(MLImage), new ImageTypeAttribute(type.Height, type.Width));
    }

    private static string[]? KeyNames(DataViewSchema.Column c)
    {
        if (c.Annotations.Schema.GetColumnOrNull("KeyValues") is null) return null;
        VBuffer<ReadOnlyMemory<char>> names = default;
        c.GetKeyValues(ref names);
        return names.DenseValues().Select(n => n.ToString()).ToArray();
    }

    /// <summary>Releases the model (call once requests have drained: the host does it at shutdown).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        (_model as IDisposable)?.Dispose();
    }

    private sealed class EnginePolicy : IPooledObjectPolicy<PredictionEngine<ImageRow, ScoreRow>>
    {
        private readonly MLContext _ml;
        private readonly ITransformer _model;
        private readonly SchemaDefinition _input;
        public EnginePolicy(MLContext ml, ITransformer model, SchemaDefinition input) { _ml = ml; _model = model; _input = input; }
        // OwnsTransformer = false: the engine must not dispose the one shared model.
        public PredictionEngine<ImageRow, ScoreRow> Create() => _ml.Model.CreatePredictionEngine<ImageRow, ScoreRow>(_model,
            new PredictionEngineOptions { OwnsTransformer = false, InputSchemaDefinition = _input });
        public bool Return(PredictionEngine<ImageRow, ScoreRow> engine) => true;
    }
}

using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Interop;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Transforms.Segmentation;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace MLNetExtensions.Estimators.Segmentation;

/// <summary>
/// Semantic segmentation with the SSA pixel classifier (Ma et al., NeurIPS 2024) or the plain 1×1 classifier it
/// replaces, on a light conv backbone + SegFormer-style decoder. Input: an image column and a key-typed per-pixel label
/// map (Vector&lt;Key&lt;K&gt;, H·W&gt;, row-major; a missing key 0 is ignored). Output: a
/// <see cref="SsaSegmentationTransformer"/> adding <c>PredictedLabel</c> (Vector&lt;Key&lt;K&gt;, H·W&gt;) and
/// <c>Score</c> (Vector&lt;Single, K, H, W&gt;). Trained by the shared <see cref="TorchTrainingLoop"/>.
/// </summary>
public sealed partial class SsaSegmenter : IEstimator<SsaSegmentationTransformer>
{
    private readonly IHostEnvironment _env;
    private readonly IHost _host;

    /// <summary>Creates the trainer; invalid options throw here, naming the option.</summary>
    public SsaSegmenter(IHostEnvironment env, Options options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _env = env;
        _host = env.Register(nameof(SsaSegmenter));
        TrainerOptions = options;
    }

    /// <summary>The options.</summary>
    public Options TrainerOptions { get; }
    /// <summary>Tensors taken from <see cref="TorchTrainerOptions.PretrainedWeightsPath"/> by the last <see cref="Fit"/> (null = none given).</summary>
    public int? PretrainedTensorsLoaded { get; private set; }
    /// <summary>Summary of the last <see cref="Fit"/> (epochs, losses, validation mIoU history).</summary>
    public TrainingSummary? LastTrainingSummary { get; private set; }
    /// <summary>Per epoch of the last <see cref="Fit"/>: the mean of each named loss term (e.g. SSA's eight official terms).</summary>
    public IReadOnlyList<IReadOnlyDictionary<string, double>> LossTermHistory { get; private set; } = Array.Empty<IReadOnlyDictionary<string, double>>();

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var o = TrainerOptions;
        var label = inputSchema.Where(c => c.Name == o.LabelColumnName).ToList();
        if (label.Count == 0) throw SchemaError.Missing(o.LabelColumnName, "a per-pixel label map: a Vector<Key> of H·W positions");
        if (!label[^1].IsKey || label[^1].Kind != SchemaShape.Column.VectorKind.Vector)
            throw SchemaError.WrongType(o.LabelColumnName, "a known-size Vector<Key> of H·W positions", $"{label[^1].Kind} {label[^1].ItemType}{(label[^1].IsKey ? " key" : "")}");
        var img = inputSchema.Where(c => c.Name == o.ImageColumnName).ToList();
        if (img.Count == 0) throw SchemaError.Missing(o.ImageColumnName, "an image (MLImage) or a Vector<Single> of C×H×W pixels");
        bool isImage = img[^1].ItemType.GetType().Name == "ImageDataViewType";
        if (!isImage && !(img[^1].ItemType == NumberDataViewType.Single && img[^1].Kind == SchemaShape.Column.VectorKind.Vector))
            throw SchemaError.WrongType(o.ImageColumnName, "an image (MLImage) or a known-size Vector<Single> of C×H×W pixels", $"{img[^1].Kind} {img[^1].ItemType}");
        var cols = inputSchema.ToDictionary(c => c.Name);
        var predMeta = new SchemaShape(new[] { MLNetInternals.MakeColumn(ColumnNames.KeyValues, SchemaShape.Column.VectorKind.Vector, TextDataViewType.Instance, false) });
        cols[o.ScoreColumnName] = MLNetInternals.MakeColumn(o.ScoreColumnName, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false);
        cols[o.PredictedLabelColumnName] = MLNetInternals.MakeColumn(o.PredictedLabelColumnName, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.UInt32, true, predMeta);
        return new SchemaShape(cols.Values);
    }

    /// <summary>Trains the network and returns the fitted segmenter.</summary>
    public SsaSegmentationTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = TrainerOptions;
        // 1. Everything that can be checked without training, first.
        var (spec, numClasses) = CheckData(input.Schema, "training data");
        if (o.ValidationSet != null)
        {
            var (vSpec, vClasses) = CheckData(o.ValidationSet.Schema, "ValidationSet");
            if (vClasses != numClasses)
                throw new ArgumentException($"ValidationSet label '{o.LabelColumnName}' has {vClasses} classes; the training data has {numClasses}.", nameof(input));
            if (vSpec.Height != spec.Height || vSpec.Width != spec.Width)
                throw new ArgumentException($"ValidationSet column '{o.ImageColumnName}' is {vSpec.Width}×{vSpec.Height}; the training data is {spec.Width}×{spec.Height}.", nameof(input));
        }
        if (input.GetRowCount() == 0) throw new ArgumentException("The training data is empty.", nameof(input));
        var classNames = ClassNames(input.Schema[o.LabelColumnName], numClasses);
        var device = TorchDevices.Resolve(o.Device, _env as MLContext);
        int seed = o.Seed ?? _host.Rand.Next(); // deterministic when the MLContext has a seed

        // 2. Build the network deterministically and train it with the shared loop.
        torch.manual_seed(seed);
        var config = o.NetworkConfig;
        var model = new SsaSegmentationNetwork(config, numClasses);
        try
        {
            if (o.PretrainedWeightsPath != null) LoadPretrained(model, o.PretrainedWeightsPath);
            model.to(device);
            var task = new SegmentationTrainingTask(model, input, spec, o, device);
            LastTrainingSummary = new TorchTrainingLoop(_host, o, seed).Run(task);
            LossTermHistory = task.TermHistory;
            model.eval();
            var description = new SegmentationModelDescription(SsaSegmentationNetwork.Architecture, JsonSerializer.Serialize(config), numClasses,
                o.ImageColumnName, spec.Height, spec.Width, spec.IsVector, spec.SourceChannels, classNames, o.Mean, o.Std,
                o.ScoreColumnName, o.PredictedLabelColumnName);
            return new SsaSegmentationTransformer(_env, description, model, device, o.InferenceBatchSize);
        }
        catch
        {
            model.Dispose(); // never hand out a half-trained model
            throw;
        }
    }

    /// <summary>Loads the tensors of a PyTorch state-dict file whose names match (e.g. only <c>backbone.*</c>); throws when none match.</summary>
    private void LoadPretrained(SsaSegmentationNetwork model, string path)
    {
        var loaded = new Dictionary<string, bool>();
        model.load_py(path, strict: false, loadedParameters: loaded);
        int n = loaded.Count(kv => kv.Value);
        if (n == 0)
            throw new ArgumentException($"PretrainedWeightsPath '{path}' holds no tensor named like this network's (backbone.*, decode_head.*).", nameof(Options.PretrainedWeightsPath));
        PretrainedTensorsLoaded = n;
        using var ch = _host.Start("Pretrained");
        ch.Info(MessageSensitivity.None, $"Loaded {n} of {model.state_dict().Count} tensors from '{path}'.");
    }

    /// <summary>Checks the image and label-map columns of a schema; returns the image geometry and the class count.</summary>
    internal (ImageInput Spec, int Classes) CheckData(DataViewSchema schema, string what)
    {
        var o = TrainerOptions;
        var spec = ImageInput.Resolve(schema, o.ImageColumnName, 3, o.ImageChannels, o.ImageHeight, o.ImageWidth);
        if (spec.Height % ConvPyramidBackbone.Stride != 0 || spec.Width % ConvPyramidBackbone.Stride != 0)
            throw new ArgumentException($"Column '{o.ImageColumnName}' ({what}) holds {spec.Width}×{spec.Height} images; height and width must be multiples of {ConvPyramidBackbone.Stride} (resize or pad them).", nameof(schema));
        var col = schema.GetColumnOrNull(o.LabelColumnName)
            ?? throw SchemaError.Missing(o.LabelColumnName, $"a per-pixel label map: a Vector<Key> of {spec.Height}×{spec.Width} = {spec.Height * spec.Width} positions");
        if (col.Type is not VectorDataViewType { ItemType: KeyDataViewType key } vec || !vec.IsKnownSize || key.RawType != typeof(uint))
            throw SchemaError.WrongType(o.LabelColumnName, $"a known-size Vector<Key<UInt32>> of {spec.Height * spec.Width} positions (a per-pixel class map)", col.Type);
        if (vec.Size != spec.Height * spec.Width)
            throw new ArgumentException($"Label column '{o.LabelColumnName}' has {vec.Size} positions but the images in '{o.ImageColumnName}' are {spec.Width}×{spec.Height} = {spec.Height * spec.Width} pixels ({what}).", nameof(schema));
        if (key.Count < 2 || key.Count > 255)
            throw new ArgumentOutOfRangeException(nameof(schema), $"Label column '{o.LabelColumnName}' has {key.Count} classes; 2–255 are supported (255 is the ignore index).");
        return (spec, (int)key.Count);
    }

    private static string[] ClassNames(DataViewSchema.Column label, int n)
    {
        if (label.HasKeyValues() && label.Annotations.Schema[ColumnNames.KeyValues].Type is VectorDataViewType { ItemType: TextDataViewType })
        {
            VBuffer<ReadOnlyMemory<char>> names = default;
            label.GetKeyValues(ref names);
            var dense = names.DenseValues().Select(m => m.ToString()).ToArray();
            if (dense.Length == n) return dense;
        }
        return Enumerable.Range(0, n).Select(i => i.ToString()).ToArray();
    }
}

using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Core.Interop;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Transforms.SqueezeTime;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Estimators.SqueezeTime;

/// <summary>
/// Trains a SqueezeTime video classifier (Zhai et al., 2024: time squeezed into channels, Channel-Time Learning
/// blocks; xinghaochen/SqueezeTime) on clips held as flat float vectors, and returns a
/// <see cref="TorchImageClassificationTransformer"/> (Score/PredictedLabel, save/load, PredictionEngine).
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term>Task</term><description>Multiclass classification of video clips</description></item>
/// <item><term>Input columns</term><description>Video: Vector&lt;Single&gt; of T×C×H×W RGB values in [0,1], frame-major (as <c>VideoFrameDecoder</c> writes it); Label: key</description></item>
/// <item><term>Output columns</term><description>Score: class probabilities; PredictedLabel: key with the label's values</description></item>
/// <item><term>Normalisation</term><description>Inside the network: <c>(255·v − mean)/std</c> with the official mmaction mean/std</description></item>
/// </list>
/// The served transformer sees the clip as a one-channel "image" of (T·C·H)×W, so the shared image-classifier
/// transformer (batching, persistence) serves it unchanged; the network reorders it to (N, C, T, H, W).
/// </remarks>
public sealed class SqueezeTimeVideoClassifier : IEstimator<TorchImageClassificationTransformer>
{
    /// <summary>SqueezeTime options.</summary>
    public sealed class Options : TorchTrainerOptions
    {
        /// <summary>Clip column: Vector&lt;Single&gt; of T×C×H×W values in [0,1]. Default <c>Video</c>.</summary>
        public string VideoColumnName { get; set; } = "Video";
        /// <summary>Frame height H; null = from a 4-D vector type (T, C, H, W). Default null.</summary>
        public int? Height { get; set; }
        /// <summary>Frame width W; null = from a 4-D vector type. Default null.</summary>
        public int? Width { get; set; }
        /// <summary>Architecture; its <c>Frames</c> is T and its class count is replaced by the label's. Default <see cref="SqueezeTimeConfig.Tiny"/> (T = 8).</summary>
        public SqueezeTimeConfig Config { get; set; } = SqueezeTimeConfig.Tiny(frames: 8);
        /// <summary>Per-colour mean on 0–255 pixels. Default the official (123.675, 116.28, 103.53).</summary>
        public float[] PixelMean { get; set; } = SqueezeTimeConfig.PixelMean.ToArray();
        /// <summary>Per-colour std on 0–255 pixels. Default the official (58.395, 57.12, 57.375).</summary>
        public float[] PixelStd { get; set; } = SqueezeTimeConfig.PixelStd.ToArray();
        /// <inheritdoc/>
        public override void Validate()
        {
            base.Validate();
            ArgumentNullException.ThrowIfNull(Config, nameof(Config));
            Config.Validate();
            if (PixelMean.Length != Config.ImageChannels || PixelStd.Length != Config.ImageChannels)
                throw new ArgumentException($"PixelMean and PixelStd need {Config.ImageChannels} values.", nameof(PixelMean));
            if (PixelStd.Any(s => !(s > 0))) throw new ArgumentOutOfRangeException(nameof(PixelStd), "PixelStd values must be positive.");
        }
    }

    private readonly IHostEnvironment _env;
    private readonly IHost _host;

    internal SqueezeTimeVideoClassifier(IHostEnvironment env, Options options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _env = env;
        _host = env.Register(nameof(SqueezeTimeVideoClassifier));
        TrainerOptions = options;
        MLNetExtensionsRegistration.EnsureModelFamilies();
    }

    /// <summary>The options this trainer was created with.</summary>
    public Options TrainerOptions { get; }
    /// <summary>Summary of the last <see cref="Fit"/>.</summary>
    public TrainingSummary? LastTrainingSummary { get; private set; }

    /// <summary>Resolves (H, W) of the clip column and checks its size against T×C×H×W.</summary>
    private (int H, int W) ResolveGeometry(string column, DataViewType type)
    {
        var o = TrainerOptions;
        int t = o.Config.Frames, c = o.Config.ImageChannels;
        if (type is not VectorDataViewType vec || vec.ItemType != NumberDataViewType.Single || !vec.IsKnownSize)
            throw SchemaError.WrongType(column, $"a known-size Vector<Single> of T×C×H×W = {t}×{c}×H×W clip values", type);
        var d = vec.Dimensions;
        int h = o.Height ?? (d.Length == 4 ? d[2] : 0), w = o.Width ?? (d.Length == 4 ? d[3] : 0);
        if (h == 0 || w == 0)
            throw new ArgumentException($"Column '{column}' is a flat Vector<Single> of {vec.Size} values; set Options.Height and Options.Width (clips are T×C×H×W with T = {t}, C = {c}).", nameof(column));
        if ((long)t * c * h * w != vec.Size)
            throw new ArgumentException($"Column '{column}' has {vec.Size} values per row; expected T×C×H×W = {t}×{c}×{h}×{w} = {(long)t * c * h * w} (T is Config.Frames).", nameof(column));
        long min = SqueezeTimeInput.MinSide(o.Config);
        if (h < min || w < min) throw new ArgumentException($"Column '{column}' holds {w}×{h} frames; this SqueezeTime config needs sides of at least {min}.", nameof(column));
        return (h, w);
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var o = TrainerOptions;
        SchemaError.CheckKeyLabel(inputSchema, o.LabelColumnName);
        var found = inputSchema.Where(c => c.Name == o.VideoColumnName).ToList();
        if (found.Count == 0) throw SchemaError.Missing(o.VideoColumnName, "a Vector<Single> of T×C×H×W clip values");
        var col = found[^1];
        if (!(col.ItemType == NumberDataViewType.Single && col.Kind == SchemaShape.Column.VectorKind.Vector))
            throw SchemaError.WrongType(o.VideoColumnName, "a known-size Vector<Single> of T×C×H×W clip values", $"{col.Kind} {col.ItemType}");
        return MulticlassSchemaShape.Append(inputSchema, o.ScoreColumnName, o.PredictedLabelColumnName);
    }

    /// <inheritdoc/>
    public TorchImageClassificationTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = TrainerOptions;
        // 1. Everything that can be checked without training, first.
        int numClasses = SchemaError.CheckKeyLabel(input.Schema, o.LabelColumnName);
        var col = input.Schema.GetColumnOrNull(o.VideoColumnName) ?? throw SchemaError.Missing(o.VideoColumnName, "a Vector<Single> of T×C×H×W clip values");
        var (h, w) = ResolveGeometry(o.VideoColumnName, col.Type);
        if (o.ValidationSet != null)
        {
            var vClasses = SchemaError.CheckKeyLabel(o.ValidationSet.Schema, o.LabelColumnName);
            if (vClasses != numClasses) throw new ArgumentException($"ValidationSet label '{o.LabelColumnName}' has {vClasses} classes; the training data has {numClasses}.", nameof(o.ValidationSet));
            var vcol = o.ValidationSet.Schema.GetColumnOrNull(o.VideoColumnName) ?? throw SchemaError.Missing(o.VideoColumnName, "a Vector<Single> of T×C×H×W clip values");
            if (ResolveGeometry(o.VideoColumnName, vcol.Type) != (h, w))
                throw new ArgumentException($"ValidationSet column '{o.VideoColumnName}' has another frame size than the training data ({w}×{h}).", nameof(o.ValidationSet));
        }
        if (input.GetRowCount() == 0) throw new ArgumentException("The training data is empty.", nameof(input));
        var classNames = ClassNames(input.Schema[o.LabelColumnName], numClasses);
        var device = TorchDevices.Resolve(o.Device, _env as MLContext);
        int seed = o.Seed ?? _host.Rand.Next();

        // 2. The clip travels as a one-channel (T·C·H)×W "image", so the shared filler and transformer carry it as is.
        var spec = new SqueezeTimeArchitecture(o.Config with { NumClasses = numClasses }, h, w, o.PixelMean, o.PixelStd);
        var input1 = new ImageInput(o.VideoColumnName, 1, o.Config.Frames * o.Config.ImageChannels * h, w) { SourceChannels = 1, IsVector = true };
        var description = new ImageClassifierDescription(SqueezeTimeArchitecture.Name, spec.ToJson(), numClasses, o.VideoColumnName, 1, input1.Height, w,
            true, 1, classNames, new[] { 0f }, new[] { 1f }, o.ScoreColumnName, o.PredictedLabelColumnName);
        torch.manual_seed(seed);
        var model = (SqueezeTimeVideoNetwork)TorchModelRegistry.Create(SqueezeTimeArchitecture.Name, spec.ToJson(), numClasses);
        try
        {
            LastPretrainedLoad = null;
            if (o.PretrainedWeightsPath != null)
            {
                LastPretrainedLoad = LoadPretrained(model, o.PretrainedWeightsPath);
                foreach (var p in model.parameters()) p.requires_grad_(true);
            }
            model.to(device);
            var task = new ClipTask(model, input, o.ValidationSet, input1, o, device);
            LastTrainingSummary = new TorchTrainingLoop(_host, o, seed).Run(task);
            if (task.Skipped > 0)
            {
                using var ch = _host.Start("Train");
                ch.Warning(MessageSensitivity.None, $"{task.Skipped} rows had a missing label and were skipped.");
            }
            model.eval();
            return new TorchImageClassificationTransformer(_env, description, model, device, o.InferenceBatchSize);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Loads an official mmaction <c>state_dict</c> (keys <c>backbone.net.*</c>, <c>cls_head.fc_cls.*</c>, optionally
    /// under <c>state_dict</c>) into the recognizer. Every backbone tensor must match; the head <c>cls_head.*</c> is
    /// skipped (and reported) when the checkpoint has another class count, so an official checkpoint fine-tunes on new classes.
    /// </summary>
    private PretrainedLoadReport LoadPretrained(SqueezeTimeVideoNetwork model, string path)
    {
        var report = PretrainedWeights.Load(model.Model, path, PretrainedWeights.KeysStartingWith("cls_head."));
        using var ch = _host.Start("Pretrained");
        ch.Info(MessageSensitivity.None, report.Summary);
        return report;
    }

    /// <summary>What the last <see cref="Fit"/> loaded from <see cref="TorchTrainerOptions.PretrainedWeightsPath"/> (null without one).</summary>
    public PretrainedLoadReport? LastPretrainedLoad { get; private set; }

    private static string[] ClassNames(DataViewSchema.Column label, int n)
    {
        if (label.HasKeyValues() && label.Annotations.Schema[ColumnNames.KeyValues].Type is VectorDataViewType { ItemType: TextDataViewType })
        {
            VBuffer<ReadOnlyMemory<char>> names = default;
            label.GetKeyValues(ref names);
            var dense = names.DenseValues().Select(m => m.ToString()).ToArray();
            if (dense.Length == n) return dense;
        }
        return Enumerable.Range(1, n).Select(i => i.ToString()).ToArray();
    }

    /// <summary>Cross-entropy on clip batches.</summary>
    private sealed class ClipTask : ITrainingTask
    {
        private readonly SqueezeTimeVideoNetwork _model;
        private readonly BatchStreamer _train;
        private readonly BatchStreamer? _valid;
        private readonly Options _o;
        private readonly Device _device;
        private readonly int _size;

        public ClipTask(SqueezeTimeVideoNetwork model, IDataView data, IDataView? valid, ImageInput input, Options o, Device device)
        {
            _model = model; _o = o; _device = device; _size = input.Size;
            _train = new BatchStreamer(data, new[] { (input.ColumnName, (Func<DataViewRow, IRowFiller>)input.CreateFiller) }, o.LabelColumnName, o.BatchSize);
            if (valid != null) _valid = new BatchStreamer(valid, new[] { (input.ColumnName, (Func<DataViewRow, IRowFiller>)input.CreateFiller) }, o.LabelColumnName, o.InferenceBatchSize);
            RowCount = data.GetRowCount();
        }

        public nn.Module Model => _model;
        public long? RowCount { get; }
        public long Skipped => _train.SkippedMissingLabels;

        public IEnumerable<HostBatch> TrainBatches(Random? shuffle, CancellationToken token) =>
            _train.StreamChecked(shuffle, _o.ShuffleBufferSize, _o.SkipMissingLabels, _o.LabelColumnName, "training data", token);

        public bool Forward(HostBatch b) { _model.call(Clips(b)); return true; }

        private Tensor Clips(HostBatch b) =>
            torch.tensor(b.Inputs[0].AsSpan(0, b.Count * b.Sizes[0]).ToArray(), new long[] { b.Count, _size }).to(_device);

        public Tensor Loss(HostBatch b)
        {
            // Official SqueezeTime checks batch ≥ 2 in training (BatchNorm); a last batch of one row is too small.
            var y = torch.tensor(b.Labels.AsSpan(0, b.Count).ToArray(), torch.int64).to(_device);
            var logits = _model.call(Clips(b));
            return nn.functional.cross_entropy(logits, y, label_smoothing: _o.LabelSmoothing);
        }

        public double? Validate(CancellationToken token)
        {
            if (_valid == null) return null;
            long correct = 0, total = 0;
            foreach (var b in _valid.Stream(null, 0, token))
            {
                using var scope = torch.NewDisposeScope();
                using var mode = torch.inference_mode();
                var pred = _model.call(Clips(b)).argmax(1).cpu().data<long>().ToArray();
                for (int i = 0; i < b.Count; i++) if (pred[i] == b.Labels[i]) correct++;
                total += b.Count;
            }
            _valid.ThrowIfMissingLabels(_o.SkipMissingLabels, _o.LabelColumnName, "validation set");
            return total == 0 ? null : correct / (double)total;
        }
    }
}

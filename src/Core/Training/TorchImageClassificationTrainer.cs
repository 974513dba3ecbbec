using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Checkpoints;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Core.Interop;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Training;

/// <summary>Options shared by the suite's image classifiers.</summary>
public abstract class ImageClassifierOptions : TorchTrainerOptions
{
    /// <summary>Image column: an MLImage (sized, e.g. after ResizeImages) or a Vector&lt;Single&gt; of C×H×W. Default <c>Image</c>.</summary>
    public string ImageColumnName { get; set; } = ColumnNames.Image;
    /// <summary>Channels of a flat float-vector image column (1 or 3); null = from the vector's dimensions. Default null.</summary>
    public int? ImageChannels { get; set; }
    /// <summary>Height of a flat float-vector image column; null = from the vector's dimensions. Default null.</summary>
    public int? ImageHeight { get; set; }
    /// <summary>Width of a flat float-vector image column; null = from the vector's dimensions. Default null.</summary>
    public int? ImageWidth { get; set; }
    /// <summary>Per-channel mean subtracted from [0,1] pixels (RGB). Default ImageNet's (0.485, 0.456, 0.406), as the official recipes.</summary>
    public float[] Mean { get; set; } = { 0.485f, 0.456f, 0.406f };
    /// <summary>Per-channel standard deviation (RGB). Default ImageNet's (0.229, 0.224, 0.225).</summary>
    public float[] Std { get; set; } = { 0.229f, 0.224f, 0.225f };

    public override void Validate()
    {
        base.Validate();
        if (Mean.Length != 3 || Std.Length != 3) throw new ArgumentException("Mean and Std need 3 values (R, G, B).", nameof(Mean));
        if (Std.Any(s => !(s > 0))) throw new ArgumentOutOfRangeException(nameof(Std), "Std values must be positive.");
    }
}

/// <summary>
/// Trainer base for image classifiers of the suite: schema checks before any work, batch streaming from the
/// IDataView, the shared training loop, and a <see cref="TorchImageClassificationTransformer"/> as result.
/// A component supplies its architecture name, config and input-size rule.
/// </summary>
public abstract class TorchImageClassificationTrainer<TOptions> : IEstimator<TorchImageClassificationTransformer>
    where TOptions : ImageClassifierOptions
{
    protected TorchImageClassificationTrainer(IHostEnvironment env, TOptions options, string name)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Env = env;
        Host = env.Register(name);
        TrainerOptions = options;
    }

    protected IHostEnvironment Env { get; }
    protected IHost Host { get; }
    /// <summary>The options this trainer was created with.</summary>
    public TOptions TrainerOptions { get; }
    /// <summary>Summary of the last <see cref="Fit"/> (epochs, losses, validation history).</summary>
    public TrainingSummary? LastTrainingSummary { get; private set; }

    /// <summary>Registered architecture name (see <see cref="TorchModelRegistry"/>).</summary>
    protected abstract string Architecture { get; }
    /// <summary>Architecture configuration, serialised with the model.</summary>
    protected abstract string ConfigJson { get; }
    /// <summary>Throws a clear error when the model cannot take images of this size.</summary>
    protected abstract void CheckImageSize(string column, int height, int width);
    /// <summary>
    /// Turns the trained network into its served form (e.g. BatchNorm folded into convolutions) and returns the
    /// config JSON that rebuilds that form at load time. Default: unchanged.
    /// </summary>
    protected virtual string PrepareForServing(nn.Module<Tensor, Tensor> model) => ConfigJson;
    /// <summary>Called after every optimisation step (e.g. to advance a PRepBN LayerNorm→BatchNorm schedule).</summary>
    protected virtual void OnTrainingStep(nn.Module<Tensor, Tensor> model, long step, long totalSteps) { }
    /// <summary>
    /// Loads <see cref="TorchTrainerOptions.PretrainedWeightsPath"/> into the freshly built model. Default: every
    /// tensor whose key and shape match (<see cref="PretrainedWeights.Load"/>); the classifier head is skipped when the
    /// checkpoint has another class count (<see cref="IsClassifierHead"/>); any other shape difference is an error.
    /// </summary>
    protected virtual PretrainedLoadReport LoadPretrained(nn.Module<Tensor, Tensor> model, string path, int numClasses)
    {
        var report = PretrainedWeights.Load(model, path, (key, m, c) => IsClassifierHead(key, m, c, numClasses));
        using var ch = Host.Start("Pretrained");
        ch.Info(MessageSensitivity.None, report.Summary);
        return report;
    }

    /// <summary>
    /// Whether a tensor whose shape differs between model and checkpoint is the classifier head (then it is skipped).
    /// Default: <see cref="PretrainedWeights.ClassifierOutputs"/> (a Linear weight/bias whose first dimension is the class count).
    /// </summary>
    protected virtual bool IsClassifierHead(string key, long[] modelShape, long[] checkpointShape, int numClasses) =>
        PretrainedWeights.ClassifierOutputs(numClasses)(key, modelShape, checkpointShape);

    /// <summary>What the last <see cref="Fit"/> loaded from <see cref="TorchTrainerOptions.PretrainedWeightsPath"/> (null without one).</summary>
    public PretrainedLoadReport? LastPretrainedLoad { get; private set; }

    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        SchemaError.CheckKeyLabel(inputSchema, TrainerOptions.LabelColumnName);
        var found = inputSchema.Where(c => c.Name == TrainerOptions.ImageColumnName).ToList();
        if (found.Count == 0) throw SchemaError.Missing(TrainerOptions.ImageColumnName, "an image (MLImage) or a Vector<Single> of C×H×W pixels");
        var img = found[^1];
        bool isImage = img.ItemType.GetType().Name == "ImageDataViewType";
        if (!isImage && !(img.ItemType == NumberDataViewType.Single && img.Kind == SchemaShape.Column.VectorKind.Vector))
            throw SchemaError.WrongType(TrainerOptions.ImageColumnName, "an image (MLImage) or a known-size Vector<Single> of C×H×W pixels", $"{img.Kind} {img.ItemType}");
        return MulticlassSchemaShape.Append(inputSchema, TrainerOptions.ScoreColumnName, TrainerOptions.PredictedLabelColumnName);
    }

    public TorchImageClassificationTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = TrainerOptions;
        // 1. Everything that can be checked without training, first.
        int numClasses = SchemaError.CheckKeyLabel(input.Schema, o.LabelColumnName);
        var spec = ImageInput.Resolve(input.Schema, o.ImageColumnName, 3, o.ImageChannels, o.ImageHeight, o.ImageWidth);
        CheckImageSize(o.ImageColumnName, spec.Height, spec.Width);
        if (o.ValidationSet != null)
        {
            var vClasses = SchemaError.CheckKeyLabel(o.ValidationSet.Schema, o.LabelColumnName);
            if (vClasses != numClasses) throw new ArgumentException($"ValidationSet label '{o.LabelColumnName}' has {vClasses} classes; the training data has {numClasses}.", nameof(o.ValidationSet));
            var vSpec = ImageInput.Resolve(o.ValidationSet.Schema, o.ImageColumnName, 3, o.ImageChannels, o.ImageHeight, o.ImageWidth);
            if (vSpec.Height != spec.Height || vSpec.Width != spec.Width)
                throw new ArgumentException($"ValidationSet column '{o.ImageColumnName}' is {vSpec.Width}×{vSpec.Height}; the training data is {spec.Width}×{spec.Height}.", nameof(o.ValidationSet));
        }
        if (input.GetRowCount() == 0) throw new ArgumentException("The training data is empty.", nameof(input));
        var classNames = ClassNames(input.Schema[o.LabelColumnName], numClasses);
        var device = TorchDevices.Resolve(o.Device, Env as MLContext);
        int seed = o.Seed ?? Host.Rand.Next(); // deterministic when the MLContext has a seed

        // 2. Build the network deterministically, optionally from an official checkpoint.
        torch.manual_seed(seed);
        var description = new ImageClassifierDescription(Architecture, ConfigJson, numClasses, o.ImageColumnName, 3, spec.Height, spec.Width,
            spec.IsVector, spec.SourceChannels, classNames, o.Mean, o.Std, o.ScoreColumnName, o.PredictedLabelColumnName);
        var model = TorchModelRegistry.Create(Architecture, ConfigJson, numClasses);
        try
        {
            LastPretrainedLoad = null;
            if (o.PretrainedWeightsPath != null)
            {
                LastPretrainedLoad = LoadPretrained(model, o.PretrainedWeightsPath, numClasses);
                foreach (var p in model.parameters()) p.requires_grad_(true);
            }
            model.to(device);
            // ExCP chains carry what rebuilds the network, so any step can be served on its own (ExcpCheckpointTransformer).
            if (o.ExcpCheckpoints != null)
                ExcpModelCard.For(description, model).Write(ExcpTrainingCheckpointStore.ChainDirectoryOf(o.CheckpointDirectory!));
            var task = new ClassificationTask(model, input, o.ValidationSet, spec, o, device, OnTrainingStep);
            LastTrainingSummary = new TorchTrainingLoop(Host, o, seed).Run(task);
            if (task.Skipped > 0)
            {
                using var ch = Host.Start("Train");
                ch.Warning(MessageSensitivity.None, $"{task.Skipped} rows had a missing label and were skipped.");
            }
            model.eval();
            description = description with { ConfigJson = PrepareForServing(model) };
            return new TorchImageClassificationTransformer(Env, description, model, device, o.InferenceBatchSize);
        }
        catch
        {
            model.Dispose(); // never hand out a half-trained model
            throw;
        }
    }

    private static string[] ClassNames(DataViewSchema.Column label, int n)
    {
        if (label.HasKeyValues())
        {
            var kt = label.Annotations.Schema[ColumnNames.KeyValues].Type as VectorDataViewType;
            if (kt?.ItemType is TextDataViewType)
            {
                VBuffer<ReadOnlyMemory<char>> names = default;
                label.GetKeyValues(ref names);
                var dense = names.DenseValues().Select(m => m.ToString()).ToArray();
                if (dense.Length == n) return dense;
            }
            else
            {
                // Non-text key values (e.g. numbers): render them as text so MapKeyToValue on the loaded model still works.
                return Enumerable.Range(0, n).Select(i => (i + 1).ToString()).ToArray();
            }
        }
        return Enumerable.Range(1, n).Select(i => i.ToString()).ToArray();
    }

    /// <summary>Cross-entropy classification on normalised images.</summary>
    private sealed class ClassificationTask : ITrainingTask
    {
        private readonly nn.Module<Tensor, Tensor> _model;
        private readonly BatchStreamer _train;
        private readonly BatchStreamer? _valid;
        private readonly long[] _rowShape;
        private readonly TOptions _o;
        private readonly Device _device;
        private readonly Tensor _mean, _std;
        private readonly Action<nn.Module<Tensor, Tensor>, long, long> _onStep;

        public ClassificationTask(nn.Module<Tensor, Tensor> model, IDataView data, IDataView? valid, ImageInput spec, TOptions o, Device device,
            Action<nn.Module<Tensor, Tensor>, long, long> onStep)
        {
            _model = model; _o = o; _device = device; _onStep = onStep;
            _train = new BatchStreamer(data, new[] { (spec.ColumnName, (Func<DataViewRow, IRowFiller>)spec.CreateFiller) }, o.LabelColumnName, o.BatchSize);
            if (valid != null)
            {
                var vs = ImageInput.Resolve(valid.Schema, o.ImageColumnName, 3, o.ImageChannels, o.ImageHeight, o.ImageWidth);
                _valid = new BatchStreamer(valid, new[] { (vs.ColumnName, (Func<DataViewRow, IRowFiller>)vs.CreateFiller) }, o.LabelColumnName, o.InferenceBatchSize);
            }
            _rowShape = new long[] { 3, spec.Height, spec.Width };
            _mean = torch.tensor(o.Mean, new long[] { 1, 3, 1, 1 }).to(device);
            _std = torch.tensor(o.Std, new long[] { 1, 3, 1, 1 }).to(device);
            RowCount = data.GetRowCount();
        }

        public nn.Module Model => _model;
        public long? RowCount { get; }
        public long Skipped => _train.SkippedMissingLabels;

        public void OnStep(long step, long totalSteps) => _onStep(_model, step, totalSteps);

        public bool CanForward => true;

        public void Forward(HostBatch b) => _model.call(Images(b));

        public IEnumerable<HostBatch> TrainBatches(Random? shuffle, CancellationToken token) =>
            _train.StreamChecked(shuffle, _o.ShuffleBufferSize, _o.SkipMissingLabels, _o.LabelColumnName, "training data", token);

        private Tensor Images(HostBatch b)
        {
            var x = torch.tensor(b.Inputs[0].AsSpan(0, b.Count * b.Sizes[0]).ToArray(), new[] { b.Count, _rowShape[0], _rowShape[1], _rowShape[2] }).to(_device);
            return (x - _mean) / _std;
        }

        public Tensor Loss(HostBatch b)
        {
            var y = torch.tensor(b.Labels.AsSpan(0, b.Count).ToArray(), torch.int64).to(_device);
            var logits = _model.call(Images(b));
            return nn.functional.cross_entropy(logits, y, label_smoothing: _o.LabelSmoothing);
        }

        public double? Validate(CancellationToken token)
        {
            if (_valid == null) return null;
            long correct = 0, total = 0;
            foreach (var b in _valid.StreamChecked(null, 0, _o.SkipMissingLabels, _o.LabelColumnName, "validation set", token))
            {
                using var scope = torch.NewDisposeScope();
                using var mode = torch.inference_mode();
                var pred = _model.call(Images(b)).argmax(1).cpu().data<long>().ToArray();
                for (int i = 0; i < b.Count; i++) if (pred[i] == b.Labels[i]) correct++;
                total += b.Count;
            }
            return total == 0 ? null : correct / (double)total;
        }
    }
}

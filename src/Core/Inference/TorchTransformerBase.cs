using System.Runtime.InteropServices;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Interop;
using MLNetExtensions.Core.IO;
using MLNetExtensions.Core.Models;
using MLNetExtensions.Core.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Inference;

/// <summary>
/// The one serving base of the suite's TorchSharp models: N declared inputs (<see cref="ModelDescription.Inputs"/>, bound
/// by the same <see cref="InputSpec"/>s as training) and M declared outputs (<see cref="ModelDescription.Outputs"/>,
/// fixed-size scores and keys derived here, variable-length vectors and text made by a subclass in
/// <see cref="Postprocess"/>). Gives the output schema, a lazy batched <c>Transform</c> (reads
/// <see cref="InferenceBatchSize"/> rows ahead, one forward per batch), a row mapper for <c>PredictionEngine</c> (one
/// forward per row, shared by all output getters), eval + inference mode, bounded concurrent forwards, persistence
/// (description JSON + safetensors weights with SHA-256 checks) and disposal of the native module.
/// </summary>
public abstract class TorchTransformerBase : ITransformer, IDisposable
{
    /// <summary>Name of the weights stream inside the model zip.</summary>
    public const string WeightsStream = "Weights.safetensors";

    private readonly SemaphoreSlim _gate;
    private readonly object _life = new();
    private int _inFlight;
    private bool _disposed;
    private OutputColumn[]? _outputColumns;

    /// <summary>Wraps a trained network (takes ownership; it is disposed with the transformer).</summary>
    protected TorchTransformerBase(IHostEnvironment env, string name, ModelDescription description, TorchNetwork network, Device device)
    {
        ArgumentNullException.ThrowIfNull(env);
        Description = description ?? throw new ArgumentNullException(nameof(description));
        TorchNetwork = network ?? throw new ArgumentNullException(nameof(network));
        if (description.ClassNames.Length != description.NumClasses)
            throw new ArgumentException($"The description lists {description.ClassNames.Length} class names for {description.NumClasses} classes.", nameof(description));
        Host = env.Register(name);
        ConvolutionBackend.EnsureCorrect();
        Device = device;
        InferenceBatchSize = description.InferenceBatchSize;
        Model.eval();
        _gate = new SemaphoreSlim(Math.Max(1, Environment.ProcessorCount));
    }

    /// <summary>ML.NET host of this transformer.</summary>
    protected IHost Host { get; }
    /// <summary>Architecture, inputs, outputs and classes of this model.</summary>
    public ModelDescription Description { get; }
    /// <summary>The network with its named forward.</summary>
    public TorchNetwork TorchNetwork { get; }
    /// <summary>The served module (eval mode).</summary>
    public nn.Module Model => TorchNetwork.Module;
    /// <summary>Device the module lives on.</summary>
    public Device Device { get; }
    /// <summary>Rows per forward in <see cref="Transform"/> (saved with the model).</summary>
    public int InferenceBatchSize { get; set; }

    /// <summary>
    /// Whether <c>Transform</c> reads the next batch of input rows on a pool thread while the current batch is scored
    /// (default true; two host batches in memory instead of one). Switch off when the input view must be cursored from
    /// one thread only. Not saved with the model.
    /// </summary>
    public bool PrefetchInputs { get; set; } = Environment.GetEnvironmentVariable("MLNETEXT_PREFETCH") != "0";

    /// <summary>The serving inputs with run-time parts attached (e.g. a tokenizer); default the description's features.</summary>
    protected virtual IReadOnlyList<InputSpec> FeatureInputs => Description.Features.ToList();

    /// <summary>Persistence version of the concrete transformer.</summary>
    private protected abstract MLNetInternals.ModelVersion PersistenceVersion { get; }

    /// <inheritdoc/>
    public bool IsRowToRowMapper => true;

    /// <summary>The feature inputs resolved against <paramref name="schema"/> (throws naming the column).</summary>
    internal IReadOnlyList<InputSpec> Bind(DataViewSchema schema) => BindFeatures(schema);

    /// <summary>
    /// Resolves the serving inputs against <paramref name="schema"/>; the batch holds exactly the returned specs' slots.
    /// Default: every feature input, throwing naming a missing column. A component that can serve without some input
    /// (e.g. a missing modality filled with zeros in its forward) overrides it.
    /// </summary>
    protected virtual IReadOnlyList<InputSpec> BindFeatures(DataViewSchema schema) => FeatureInputs.Select(s => s.Resolve(schema)).ToList();

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        Bind(inputSchema);
        var b = new DataViewSchema.Builder();
        b.AddColumns(inputSchema);
        foreach (var c in OutputColumns) b.AddColumn(c.Spec.Column, c.Type, c.Annotations);
        return b.ToSchema();
    }

    /// <inheritdoc/>
    public IDataView Transform(IDataView input) => new TorchBatchedView(this, input);

    /// <inheritdoc/>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => new TorchRowMapper(this, inputSchema);

    void ICanSaveModel.Save(ModelSaveContext ctx) => SaveModel(ctx);

    // ---- outputs ---------------------------------------------------------------------------------------------------
    internal sealed record OutputColumn(OutputSpec Spec, DataViewType Type, DataViewSchema.Annotations Annotations);

    internal IReadOnlyList<OutputColumn> OutputColumns => _outputColumns ??= Description.Outputs.Select(MakeColumn).ToArray();

    private OutputColumn MakeColumn(OutputSpec o)
    {
        var d = Description;
        var names = new VBuffer<ReadOnlyMemory<char>>(d.NumClasses, d.ClassNames.Select(n => n.AsMemory()).ToArray());
        var textVec = new VectorDataViewType(TextDataViewType.Instance, Math.Max(1, d.NumClasses));
        DataViewSchema.Annotations KeyValues()
        {
            if (!o.ClassAnnotations || d.NumClasses == 0) return DataViewSchema.Annotations.Empty;
            var a = new DataViewSchema.Annotations.Builder();
            a.Add(ColumnNames.KeyValues, textVec, (ref VBuffer<ReadOnlyMemory<char>> v) => names.CopyTo(ref v));
            return a.ToAnnotations();
        }
        switch (o.Kind)
        {
            case OutputKind.Scores:
                var ann = DataViewSchema.Annotations.Empty;
                if (o.ClassAnnotations)
                {
                    var a = new DataViewSchema.Annotations.Builder();
                    a.Add(ColumnNames.SlotNames, textVec, (ref VBuffer<ReadOnlyMemory<char>> v) => names.CopyTo(ref v));
                    a.Add(ColumnNames.ScoreColumnKind, TextDataViewType.Instance, (ref ReadOnlyMemory<char> v) => v = "MulticlassClassification".AsMemory());
                    a.Add(ColumnNames.ScoreValueKind, TextDataViewType.Instance, (ref ReadOnlyMemory<char> v) => v = "Score".AsMemory());
                    a.Add(ColumnNames.ScoreColumnSetId, new KeyDataViewType(typeof(uint), int.MaxValue), (ref uint v) => v = 1);
                    a.Add(ColumnNames.TrainingLabelValues, textVec, (ref VBuffer<ReadOnlyMemory<char>> v) => names.CopyTo(ref v));
                    ann = a.ToAnnotations();
                }
                return new OutputColumn(o, new VectorDataViewType(NumberDataViewType.Single, o.Shape), ann);
            case OutputKind.ArgmaxKey:
                return new OutputColumn(o, new KeyDataViewType(typeof(uint), o.Classes), KeyValues());
            case OutputKind.ArgmaxKeyMap:
                return new OutputColumn(o, new VectorDataViewType(new KeyDataViewType(typeof(uint), o.Classes), o.Shape.Aggregate(1, (x, y) => x * y)), KeyValues());
            case OutputKind.VariableScores:
                return new OutputColumn(o, new VectorDataViewType(NumberDataViewType.Single), DataViewSchema.Annotations.Empty);
            case OutputKind.VariableKeys:
                return new OutputColumn(o, new VectorDataViewType(new KeyDataViewType(typeof(uint), o.Classes)), KeyValues());
            case OutputKind.Text:
                return new OutputColumn(o, TextDataViewType.Instance, DataViewSchema.Annotations.Empty);
            case OutputKind.Scalar:
                return new OutputColumn(o, NumberDataViewType.Single, DataViewSchema.Annotations.Empty);
            default: throw new NotSupportedException(o.Kind.ToString());
        }
    }

    /// <summary>
    /// Per output (in <see cref="ModelDescription.Outputs"/> order) and per row: <c>float[]</c> (scores),
    /// <c>uint</c> (a key), <c>uint[]</c> (keys) or <c>string</c> (text). The default derives the fixed-size kinds from the
    /// network's outputs; a subclass with variable-length or text outputs overrides it (and may call the base for the rest).
    /// </summary>
    protected virtual object[][] Postprocess(IReadOnlyDictionary<string, Tensor> outputs, int rows)
    {
        var result = new object[Description.Outputs.Length][];
        var activated = new Dictionary<(string, OutputActivation), Tensor>(); // Score and PredictedLabel share one softmax
        for (int i = 0; i < result.Length; i++) result[i] = Derive(Description.Outputs[i], outputs, rows, activated);
        return result;
    }

    /// <summary>The rows of one fixed-size output (<see cref="OutputKind.Scores"/>, <see cref="OutputKind.ArgmaxKey"/>, <see cref="OutputKind.ArgmaxKeyMap"/>).</summary>
    protected static object[] Derive(OutputSpec o, IReadOnlyDictionary<string, Tensor> outputs, int rows,
        Dictionary<(string, OutputActivation), Tensor>? activated = null)
    {
        if (!outputs.TryGetValue(o.Source, out var raw))
            throw new InvalidOperationException($"Output column '{o.Column}' reads network output '{o.Source}', which the network did not return ({string.Join(", ", outputs.Keys)}).");
        if (activated == null || !activated.TryGetValue((o.Source, o.Activation), out var t))
        {
            t = o.Activation switch { OutputActivation.Softmax => raw.softmax(1), OutputActivation.Sigmoid => raw.sigmoid(), _ => raw };
            if (activated != null) activated[(o.Source, o.Activation)] = t;
        }
        var res = new object[rows];
        switch (o.Kind)
        {
            case OutputKind.Scores:
            {
                // Each row's array copied straight out of the tensor's memory (no intermediate whole-batch array).
                var flat = MemoryMarshal.Cast<byte, float>(t.to(float32).reshape(rows, -1).cpu().contiguous().bytes);
                int w = flat.Length / rows;
                for (int r = 0; r < rows; r++) res[r] = flat.Slice(r * w, w).ToArray();
                return res;
            }
            case OutputKind.ArgmaxKey:
            {
                var idx = MemoryMarshal.Cast<byte, long>(t.reshape(rows, -1).argmax(1).cpu().bytes);
                for (int r = 0; r < rows; r++) res[r] = (uint)idx[r] + 1;
                return res;
            }
            case OutputKind.ArgmaxKeyMap:
            {
                var idx = t.argmax(1).reshape(rows, -1).cpu().contiguous().data<long>().ToArray();
                int p = idx.Length / rows;
                for (int r = 0; r < rows; r++) { var m = new uint[p]; for (int j = 0; j < p; j++) m[j] = (uint)idx[r * p + j] + 1; res[r] = m; }
                return res;
            }
            default:
                throw new NotSupportedException($"Output column '{o.Column}' is {o.Kind}; the transformer must produce it in Postprocess.");
        }
    }

    /// <summary>Runs the network on a filled batch (valid rows only) and returns the per-output, per-row values.</summary>
    internal object[][] Score(HostBatch batch, IReadOnlyList<InputSpec> inputs)
    {
        // Forwards in flight are counted so Dispose waits for them (they finish); a call that starts after Dispose fails
        // with ObjectDisposedException naming the model. The gate is never disposed, so no waiter can hang on it.
        lock (_life)
        {
            if (_disposed) throw Disposed();
            _inFlight++;
        }
        try
        {
            _gate.Wait();
            try
            {
                using var scope = torch.NewDisposeScope();
                using var mode = torch.inference_mode();
                var outputs = TorchNetwork.Forward(ModelInputs.From(batch, inputs, Device));
                return Postprocess(outputs, batch.Count);
            }
            finally { _gate.Release(); }
        }
        finally
        {
            lock (_life) { if (--_inFlight == 0) Monitor.PulseAll(_life); }
        }
    }

    private ObjectDisposedException Disposed() => new(GetType().Name,
        $"The {GetType().Name} model '{Description.Architecture}' was disposed; load or keep another instance to serve.");

    /// <summary>Whether <see cref="Dispose"/> has released the native model.</summary>
    public bool IsDisposed { get { lock (_life) return _disposed; } }

    /// <summary>
    /// Releases the native module once the forwards in flight have finished; later calls throw
    /// <see cref="ObjectDisposedException"/> naming the model. A call made by an ML.NET <c>PredictionEngine</c> is ignored:
    /// engines are created with <c>OwnsTransformer = true</c> by default and dispose the transformer (through the
    /// <c>TransformerChain</c>) when the engine is disposed, but one loaded model serves many engines and threads, so
    /// an engine never owns it. The owner (whoever fitted or loaded it) disposes it.
    /// </summary>
    public void Dispose()
    {
        if (CalledByPredictionEngine()) return;
        lock (_life)
        {
            if (_disposed) return;
            _disposed = true;
            while (_inFlight > 0) Monitor.Wait(_life);
        }
        Model.Dispose();
        GC.SuppressFinalize(this);
    }

    // ML.NET's PredictionEngineBase.Dispose calls (Transformer as IDisposable)?.Dispose() when it "owns" the transformer;
    // nothing else tells that call from the owner's, so the caller chain is inspected (only when disposing).
    private static bool CalledByPredictionEngine()
    {
        foreach (var f in new System.Diagnostics.StackTrace(2, false).GetFrames())
        {
            var t = f.GetMethod()?.DeclaringType;
            for (; t != null; t = t.DeclaringType)
                if (t.Namespace == "Microsoft.ML" && t.Name.StartsWith("PredictionEngine", StringComparison.Ordinal)) return true;
        }
        return false;
    }

    // ---- persistence -----------------------------------------------------------------------------------------------
    /// <summary>Extra streams a subclass stores beside the weights (e.g. its tokenizer), by stream name.</summary>
    protected virtual IEnumerable<(string Stream, byte[] Bytes)> ExtraStreams() => Array.Empty<(string, byte[])>();

    /// <summary>Writes the description (with SHA-256 of every stream) and the weights into ML.NET's model zip.</summary>
    protected virtual void SaveModel(ModelSaveContext ctx)
    {
        using var ms = new MemoryStream();
        SafeTensors.Write(ms, Model.state_dict());
        var streams = new List<(string, byte[])> { (WeightsStream, ms.ToArray()) };
        streams.AddRange(ExtraStreams());
        var hashes = streams.ToDictionary(s => s.Item1, s => Checksums.Sha256Hex(s.Item2));
        var d = Description with { InferenceBatchSize = InferenceBatchSize, StreamSha256 = hashes, Version = 2 };
        MLNetInternals.Save(ctx, PersistenceVersion, GetType(), w => w.Write(d.ToJson()),
            streams.Select(s => (s.Item1, (Action<BinaryWriter>)(w => w.Write(s.Item2)))).ToList());
    }

    /// <summary>What a loader read: the description, the raw streams and the ML.NET load context.</summary>
    private protected sealed record Loaded(ModelDescription Description, TorchNetwork Network, Device Device, MLNetInternals.LoadContext Context);

    /// <summary>
    /// Reads a version-2 model: the description, every stream it lists checked against its SHA-256 (a corrupt zip names
    /// the stream), the network rebuilt from the registry with its weights (strict), on the MLContext's device.
    /// </summary>
    private protected static Loaded LoadV2(IHostEnvironment env, MLNetInternals.LoadContext load, Type type, string json)
    {
        var d = ModelDescription.Parse(json, $"the {type.Name} model zip");
        var weights = ReadVerified(load, d, WeightsStream, type);
        Dictionary<string, Tensor> tensors;
        using (var ms = new MemoryStream(weights)) tensors = SafeTensors.Read(ms);
        return new Loaded(d, Rebuild(env, d.Architecture, d.ConfigJson, d.NumClasses, tensors, "model zip"), DeviceOf(env), load);
    }

    /// <summary>
    /// Opens a model zip of this transformer type and reads it whatever its persistence version: version 2 through
    /// <see cref="LoadV2"/>; version 1 by parsing its record <typeparamref name="TV1"/>, upgrading it to a
    /// <see cref="ModelDescription"/>, and loading the (unhashed) weights. <paramref name="mayKeepInitial"/> names constant
    /// buffers added since version 1.
    /// </summary>
    private protected static Loaded LoadAnyVersion<TV1>(IHostEnvironment env, object ctx, MLNetInternals.ModelVersion version, Type type,
        Func<TV1, ModelDescription> upgrade, Func<string, bool>? mayKeepInitial = null) where TV1 : class
    {
        var load = MLNetInternals.OpenLoad(ctx, version, type);
        var json = load.Reader.ReadString();
        if (load.VersionWritten >= 0x00020001) return LoadV2(env, load, type, json);
        var v1 = System.Text.Json.JsonSerializer.Deserialize<TV1>(json) ?? throw new InvalidDataException($"The {type.Name} model's description is empty.");
        var d = upgrade(v1);
        var weights = load.ReadStream(WeightsStream, r => SafeTensors.Read(r.BaseStream));
        return new Loaded(d, Rebuild(env, d.Architecture, d.ConfigJson, d.NumClasses, weights, "model zip", mayKeepInitial), DeviceOf(env), load);
    }

    /// <summary>A stream of the zip, checked against the description's SHA-256 when it has one.</summary>
    private protected static byte[] ReadVerified(MLNetInternals.LoadContext load, ModelDescription d, string stream, Type type)
    {
        var bytes = load.ReadStream(stream, r => { using var ms = new MemoryStream(); r.BaseStream.CopyTo(ms); return ms.ToArray(); });
        // Version 2 hashes every stream it writes: a missing hash is a damaged (or hand-edited) description.
        if (!d.StreamSha256.TryGetValue(stream, out var expected))
            throw new InvalidDataException($"The {type.Name} model zip is corrupt: its description lists no SHA-256 for stream '{stream}'.");
        if (!string.Equals(expected, Checksums.Sha256Hex(bytes), StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException($"The {type.Name} model zip is corrupt: stream '{stream}' does not match its SHA-256 (expected {expected}).");
        return bytes;
    }

    /// <summary>Builds a registered network and loads <paramref name="weights"/> into it (strict, every key and shape).</summary>
    private protected static TorchNetwork Rebuild(IHostEnvironment env, string architecture, string configJson, int classes,
        Dictionary<string, Tensor> weights, string source, Func<string, bool>? mayKeepInitial = null)
    {
        var net = TorchModelRegistry.BuildNetwork(architecture, configJson, classes);
        try { StateDicts.LoadStrict(net.Module, weights, source, mayKeepInitial); }
        catch { net.Module.Dispose(); throw; }
        net.Module.to(DeviceOf(env));
        net.Module.eval();
        return net;
    }

    /// <summary>The MLContext's device (CPU unless it asks for CUDA).</summary>
    private protected static Device DeviceOf(IHostEnvironment env) => TorchDevices.Resolve(null, env as MLContext);

    /// <summary>Registers <paramref name="type"/>'s private static <c>Create(IHostEnvironment, object)</c> as its loader.</summary>
    protected static void RegisterLoader(ComponentCatalog catalog, Type type, string loaderSignature) =>
        MLNetInternals.RegisterCreateLoader(catalog, type, loaderSignature);

    /// <summary>Opens a version-2 model zip of <paramref name="type"/> and reads it (<see cref="LoadV2"/>): a loader's whole body.</summary>
    private protected static Loaded OpenV2(IHostEnvironment env, object ctx, MLNetInternals.ModelVersion version, Type type)
    {
        var load = MLNetInternals.OpenLoad(ctx, version, type);
        return LoadV2(env, load, type, load.Reader.ReadString());
    }
}

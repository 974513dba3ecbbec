using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Core.Interop;
using MLNetExtensions.Core.Models;
using MLNetExtensions.Core.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Training;

/// <summary>What the template hands a component when it creates its training task.</summary>
/// <param name="Network">The network being trained (on the device).</param>
/// <param name="Data">Training data.</param>
/// <param name="Inputs">The bound columns resolved against the training data.</param>
/// <param name="ValidationInputs">The same columns resolved against the validation set (null without one).</param>
/// <param name="Device">Training device.</param>
/// <param name="Classes">Classes K (0 when the task has none).</param>
public sealed record TrainingContext(TorchNetwork Network, IDataView Data, IReadOnlyList<InputSpec> Inputs,
    IReadOnlyList<InputSpec>? ValidationInputs, Device Device, int Classes);

/// <summary>
/// The one template that owns <c>Fit</c> for every TorchSharp trainer of the suite: validates the options; binds the
/// training and validation schemas and checks that they agree; rejects empty data; resolves device and seed; builds the
/// network from a typed architecture record; loads pretrained weights (leaving every parameter trainable); writes the
/// model description into the checkpoint format (ExCP model cards); runs <see cref="TorchTrainingLoop"/>; prepares the serving form;
/// creates the transformer; and disposes the network if anything fails. A component declares its columns, architecture,
/// outputs and task, and how its transformer is made.
/// </summary>
public abstract class TorchTrainerBase<TOptions, TTransformer> : IEstimator<TTransformer>, ITorchTrainer
    where TOptions : TorchTrainerOptions
    where TTransformer : TorchTransformerBase
{
    /// <summary>Creates the trainer; invalid options throw here, naming the option.</summary>
    protected TorchTrainerBase(IHostEnvironment env, TOptions options, string name)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Env = env;
        Host = env.Register(name);
        TrainerOptions = options;
    }

    /// <summary>The environment.</summary>
    protected IHostEnvironment Env { get; }
    /// <summary>This trainer's host (logging, randomness).</summary>
    protected IHost Host { get; }
    /// <summary>The options this trainer was created with.</summary>
    public TOptions TrainerOptions { get; }
    TorchTrainerOptions ITorchTrainer.Options => TrainerOptions;
    /// <summary>Summary of the last <see cref="Fit"/> (epochs, losses, validation history, BatchNorm re-estimation).</summary>
    public TrainingSummary? LastTrainingSummary { get; private set; }
    /// <summary>Per epoch of the last <see cref="Fit"/>: the mean of each named loss term the task reports (e.g. SSA's eight official terms; empty without named terms).</summary>
    public IReadOnlyList<IReadOnlyDictionary<string, double>> LossTermHistory =>
        LastTrainingSummary?.History.Where(h => h.EpochCompleted && h.LossTerms != null).Select(h => h.LossTerms!).ToList()
        ?? new List<IReadOnlyDictionary<string, double>>();
    /// <summary>What the last <see cref="Fit"/> loaded from <see cref="TorchTrainerOptions.PretrainedWeightsPath"/> (null without one).</summary>
    public PretrainedLoadReport? LastPretrainedLoad { get; private set; }

    /// <summary>
    /// A classifier trained on one class learns nothing and would still "succeed": one pass over the label column alone
    /// (ML.NET computes no other column for it) stops as soon as a second class appears.
    /// </summary>
    private static void CheckSeveralClasses(IDataView data, KeyLabelInputSpec label)
    {
        var col = data.Schema[label.Column];
        using var cursor = data.GetRowCursor(new[] { col });
        var get = cursor.GetGetter<uint>(col);
        uint first = 0, v = 0;
        long rows = 0;
        while (cursor.MoveNext())
        {
            get(ref v);
            if (v == 0) continue; // missing: skipped by the binder
            rows++;
            if (first == 0) first = v;
            else if (v != first) return;
        }
        if (rows > 0)
            throw new ArgumentOutOfRangeException(label.Column,
                $"Label column '{label.Column}' of the training data holds a single class (key {first} of {label.Classes}) in all {rows} labelled rows; " +
                "a classifier needs examples of at least two classes.");
    }

    /// <summary>The task name stored in the description (<see cref="ModelTasks"/>).</summary>
    protected abstract string Task { get; }
    /// <summary>The columns the model reads (features) and trains on (labels), unresolved (geometry from the options).</summary>
    protected abstract IReadOnlyList<InputSpec> DeclareInputs();
    /// <summary>Checks geometry the network needs (e.g. sides a multiple of 32) on resolved inputs; throws <see cref="ArgumentOutOfRangeException"/> naming the column.</summary>
    protected virtual void CheckInputs(IReadOnlyList<InputSpec> inputs, string what) { }
    /// <summary>Classes of the task (default: the key count of the first key label or key map).</summary>
    protected virtual int ClassCount(IReadOnlyList<InputSpec> inputs) =>
        inputs.Select(i => i switch { KeyLabelInputSpec k => k.Classes, KeyMapInputSpec m => m.Classes, MultiHotInputSpec h => h.Classes, _ => 0 }).FirstOrDefault(c => c > 0);
    /// <summary>The label column whose key values name the classes (null = none).</summary>
    protected virtual string? ClassNamesColumn => TrainerOptions.LabelColumnName;
    /// <summary>The typed architecture record of the network to train.</summary>
    protected abstract IModelArchitecture Architecture(IReadOnlyList<InputSpec> inputs, int classes);
    /// <summary>The output columns of the fitted model.</summary>
    protected abstract OutputSpec[] Outputs(IReadOnlyList<InputSpec> inputs, int classes);
    /// <summary>The training task over the bound data.</summary>
    protected abstract TrainingTask CreateTask(TrainingContext context);
    /// <summary>Wraps the trained network as the fitted transformer.</summary>
    protected abstract TTransformer CreateTransformer(ModelDescription description, TorchNetwork network, Device device);

    /// <summary>
    /// Loads <see cref="TorchTrainerOptions.PretrainedWeightsPath"/> into the freshly built network. Default: every tensor
    /// whose key and shape match; a tensor of another shape is skipped when <see cref="IsClassifierHead"/> says so, else an error.
    /// </summary>
    protected virtual PretrainedLoadReport LoadPretrained(TorchNetwork network, string path, int classes) =>
        PretrainedWeights.Load(network.Module, path, (key, m, c) => IsClassifierHead(key, m, c, classes));

    /// <summary>Whether a tensor whose shape differs between model and checkpoint is the classifier head (then it is skipped).</summary>
    protected virtual bool IsClassifierHead(string key, long[] modelShape, long[] checkpointShape, int classes) =>
        PretrainedWeights.ClassifierOutputs(classes)(key, modelShape, checkpointShape);

    /// <summary>Turns the trained network into its served form (e.g. BatchNorm folded) and returns the record that rebuilds it. Default: unchanged.</summary>
    protected virtual IModelArchitecture PrepareForServing(TorchNetwork network, IModelArchitecture architecture) => architecture;

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        foreach (var s in DeclareInputs()) s.Check(inputSchema);
        var cols = inputSchema.ToDictionary(c => c.Name);
        foreach (var o in Outputs(DeclareInputs(), 0)) cols[o.Column] = OutputSchemaShape.Of(o);
        return new SchemaShape(cols.Values);
    }

    /// <summary>Trains the network and returns the fitted transformer.</summary>
    public TTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = TrainerOptions;
        // 1. Everything that can be checked without training, first.
        var declared = DeclareInputs();
        var inputs = declared.Select(s => s.Resolve(input.Schema, "training data")).ToList();
        CheckInputs(inputs, "training data");
        IReadOnlyList<InputSpec>? validation = null;
        if (o.ValidationSet != null)
        {
            // Resolved training specs carry the geometry and class counts: the validation set must have the same.
            var v = inputs.Select(s => s.Resolve(o.ValidationSet.Schema, "ValidationSet")).ToList();
            for (int i = 0; i < v.Count; i++) inputs[i].CheckSameGeometry(v[i], "ValidationSet");
            validation = v;
        }
        if (input.GetRowCount() == 0) throw new ArgumentOutOfRangeException(nameof(input), "The training data is empty.");
        foreach (var label in inputs.OfType<KeyLabelInputSpec>().Where(l => l.Role == InputRole.Label)) CheckSeveralClasses(input, label);
        int classes = ClassCount(inputs);
        var classNames = ClassNamesColumn != null && input.Schema.GetColumnOrNull(ClassNamesColumn) is { } lc && classes > 0
            ? ClassNames.Of(lc, classes) : Enumerable.Range(1, classes).Select(i => i.ToString()).ToArray();
        var device = TorchDevices.Resolve(o.Device, Env as MLContext);
        int seed = o.Seed ?? Host.Rand.Next(); // deterministic when the MLContext has a seed

        // 2. Build the network deterministically, optionally from an official checkpoint.
        torch.manual_seed(seed);
        var architecture = Architecture(inputs, classes);
        var outputs = Outputs(inputs, classes);
        var network = TorchModelRegistry.Build(architecture, classes);
        try
        {
            LastPretrainedLoad = null;
            if (o.PretrainedWeightsPath != null)
            {
                LastPretrainedLoad = LoadPretrained(network, o.PretrainedWeightsPath, classes);
                // load_py and friends return parameters with requires_grad off: a pretrained network must train whole.
                foreach (var p in network.Module.parameters()) p.requires_grad_(true);
                using var ch = Host.Start("Pretrained");
                ch.Info(MessageSensitivity.None, LastPretrainedLoad.Summary);
            }
            network.Module.to(device);
            var description = new ModelDescription(Task, architecture.ArchitectureName, TorchModelRegistry.ConfigJson(architecture), classes, classNames,
                inputs.ToArray(), outputs) { InferenceBatchSize = o.InferenceBatchSize };
            // A checkpoint format that serves its steps (ExCP) stores what rebuilds the network.
            o.CheckpointFormat?.DescribeModel(o.CheckpointDirectory!, description, network.Module);
            var task = CreateTask(new TrainingContext(network, input, inputs, validation, device, classes));
            LastTrainingSummary = new TorchTrainingLoop(Host, o, seed).Run(task);
            if (task.SkippedRows > 0)
            {
                using var ch = Host.Start("Train");
                ch.Warning(MessageSensitivity.None, $"{task.SkippedRows} rows had a missing label and were skipped.");
            }
            network.Module.eval();
            var served = PrepareForServing(network, architecture);
            description = description with { ConfigJson = TorchModelRegistry.ConfigJson(served) };
            return CreateTransformer(description, network, device);
        }
        catch
        {
            network.Module.Dispose(); // never hand out a half-trained model
            throw;
        }
    }
}

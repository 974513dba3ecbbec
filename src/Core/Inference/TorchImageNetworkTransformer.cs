using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Interop;
using MLNetExtensions.Core.IO;
using MLNetExtensions.Core.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Inference;

/// <summary>
/// What every fitted image network stores to rebuild itself: the registry architecture and its configuration, the
/// input column and geometry, and the normalisation applied to [0,1] pixels. Saved as JSON inside the model zip.
/// </summary>
public interface IImageNetworkDescription
{
    /// <summary>Registry name of the network (<see cref="TorchModelRegistry"/>).</summary>
    string Architecture { get; }
    /// <summary>Network configuration as JSON.</summary>
    string ConfigJson { get; }
    /// <summary>Classes K.</summary>
    int NumClasses { get; }
    /// <summary>Input column (MLImage or Vector&lt;Single&gt; C×H×W).</summary>
    string InputColumn { get; }
    /// <summary>Channels the network sees.</summary>
    int Channels { get; }
    /// <summary>Input height.</summary>
    int Height { get; }
    /// <summary>Input width.</summary>
    int Width { get; }
    /// <summary>True for a float-vector input column.</summary>
    bool InputIsVector { get; }
    /// <summary>Channels of a vector input column.</summary>
    int SourceChannels { get; }
    /// <summary>Per-channel mean subtracted from [0,1] pixels.</summary>
    float[] Mean { get; }
    /// <summary>Per-channel standard deviation.</summary>
    float[] Std { get; }
}

/// <summary>
/// A fitted network over an image column: binds and checks the input column against the training geometry,
/// normalises on the fly, and saves/loads as a JSON description plus <c>Weights.safetensors</c> inside the model zip.
/// Subclasses say what the outputs are (<see cref="TorchTransformerBase.OutputColumns"/>, <see cref="Forward"/>) and
/// give the loader entry that calls <see cref="Load"/>.
/// </summary>
public abstract class TorchImageNetworkTransformer<TDescription> : TorchTransformerBase
    where TDescription : class, IImageNetworkDescription
{
    private readonly Tensor _mean, _std;
    private readonly MLNetInternals.ModelVersion _version;

    /// <summary>Wraps a trained network (takes ownership; it is disposed with the transformer).</summary>
    private protected TorchImageNetworkTransformer(IHostEnvironment env, string name, MLNetInternals.ModelVersion version,
        TDescription description, nn.Module<Tensor, Tensor> network, Device device, int inferenceBatchSize)
        : base(env, name, network, device, inferenceBatchSize)
    {
        ArgumentNullException.ThrowIfNull(description);
        if (description.Mean.Length != description.Channels || description.Std.Length != description.Channels)
            throw new ArgumentException($"Mean and Std need {description.Channels} values (one per channel).", nameof(description));
        _version = version;
        Description = description;
        Network = network;
        _mean = torch.tensor(description.Mean, new long[] { 1, description.Channels, 1, 1 }).to(device);
        _std = torch.tensor(description.Std, new long[] { 1, description.Channels, 1, 1 }).to(device);
    }

    /// <summary>Architecture, geometry, classes and columns of this model.</summary>
    public TDescription Description { get; }
    /// <summary>The network (eval mode): normalised images → logits.</summary>
    public nn.Module<Tensor, Tensor> Network { get; }

    protected sealed override string InputColumnName => Description.InputColumn;

    protected sealed override (Func<DataViewRow, IRowFiller>, long[]) BindInput(DataViewSchema schema)
    {
        var d = Description;
        var expected = d.InputIsVector ? $"a Vector<Single> of {d.SourceChannels}×{d.Height}×{d.Width} pixels" : $"an image (MLImage) of {d.Width}×{d.Height}";
        var col = schema.GetColumnOrNull(d.InputColumn) ?? throw SchemaError.Missing(d.InputColumn, expected);
        var spec = ImageInput.Resolve(d.InputColumn, col.Type, d.Channels,
            d.InputIsVector ? d.SourceChannels : null, d.InputIsVector ? d.Height : null, d.InputIsVector ? d.Width : null);
        if (spec.Height != d.Height || spec.Width != d.Width)
            throw SchemaError.WrongType(d.InputColumn, $"images of {d.Width}×{d.Height} (the training size)", col.Type);
        return (spec.CreateFiller, new long[] { d.Channels, d.Height, d.Width });
    }

    /// <summary>The network's logits for a batch of raw [0,1] pixels, normalised as in training.</summary>
    protected Tensor Logits(Tensor batch) => Network.call((batch - _mean) / _std);

    /// <summary>Saves the description and weights; a subclass with another payload (e.g. a compressed checkpoint step) overrides it.</summary>
    protected override void SaveModel(ModelSaveContext ctx) =>
        MLNetInternals.Save(ctx, _version, GetType(),
            w => w.Write(JsonSerializer.Serialize(Description)),
            new (string, Action<BinaryWriter>)[] { ("Weights.safetensors", w => SafeTensors.Write(w.BaseStream, Network.state_dict())) });

    /// <summary>
    /// Reads what <see cref="SaveModel"/> wrote: the description and the network rebuilt from the registry with its
    /// weights (strict), on the MLContext's device. For the subclasses' ML.NET loader entries.
    /// </summary>
    private protected static (TDescription Description, nn.Module<Tensor, Tensor> Network, Device Device) Load(
        IHostEnvironment env, object ctx, MLNetInternals.ModelVersion version, Type type)
    {
        var load = MLNetInternals.OpenLoad(ctx, version, type);
        var d = JsonSerializer.Deserialize<TDescription>(load.Reader.ReadString())
            ?? throw new InvalidDataException($"The {type.Name} model's description is empty.");
        var weights = load.ReadStream("Weights.safetensors", r => SafeTensors.Read(r.BaseStream));
        var model = TorchModelRegistry.Create(d.Architecture, d.ConfigJson, d.NumClasses);
        TrainingCheckpointStore.LoadInto(model, weights, "model zip");
        var device = TorchDevices.Resolve(null, env as MLContext);
        model.to(device);
        return (d, model, device);
    }

    /// <summary>Registers <paramref name="type"/>'s private static <c>Create(IHostEnvironment, object)</c> as its loader.</summary>
    protected static void RegisterLoader(ComponentCatalog catalog, Type type, string loaderSignature) =>
        MLNetInternals.RegisterLoader(catalog, type, loaderSignature,
            type.GetMethod("Create", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)
                ?? throw new InvalidOperationException($"{type.Name} has no private static Create(IHostEnvironment, object) loader."));
}

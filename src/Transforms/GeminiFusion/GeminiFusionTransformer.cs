using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Core.Interop;
using MLNetExtensions.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.GeminiFusion;

/// <summary>
/// A fitted GeminiFusion segmenter. Reads one column per modality and adds <c>PredictedLabel</c>
/// (Vector&lt;Key&lt;K&gt;, H·W&gt;) and <c>Score</c> (Vector&lt;Single, K, H, W&gt;) from the ensemble output, and, when
/// trained with branch outputs, the same pair per modality branch. A modality column missing from the scored data is
/// an error unless <see cref="MissingModality"/> is <see cref="MissingModalityPolicy.Zeros"/> (saved with the model).
/// Batched <c>Transform</c>, <c>PredictionEngine</c> and <c>mlContext.Model.Save/Load</c> come from <see cref="TorchTransformerBase"/>.
/// </summary>
public sealed class GeminiFusionTransformer : TorchTransformerBase
{
    internal const string LoaderSignature = "MLNetExtGeminiFusion";
    /// <summary>Key of the missing-modality policy in <see cref="ModelDescription.Properties"/>.</summary>
    public const string MissingModalityProperty = "MissingModality";
    private static readonly MLNetInternals.ModelVersion Version = new("MLXTGEMF", 0x00020001, 0x00020001, 0x00020001, LoaderSignature);

    private readonly ZeroFill _fill;

    /// <summary>Wraps a trained network (takes ownership; it is disposed with the transformer).</summary>
    public GeminiFusionTransformer(IHostEnvironment env, ModelDescription description, TorchNetwork network, Device device)
        : this(env, description, network, device, new ZeroFill(description, network)) { }

    private GeminiFusionTransformer(IHostEnvironment env, ModelDescription description, TorchNetwork network, Device device, ZeroFill fill)
        : base(env, nameof(GeminiFusionTransformer), description, fill.Network, device)
    {
        _fill = fill;
        fill.Device = device;
    }

    /// <summary>The network (eval mode).</summary>
    public GeminiFusionNetwork Network => (GeminiFusionNetwork)Model;

    /// <summary>The modality columns in modality order (0 = the RGB stream).</summary>
    public IReadOnlyList<string> ModalityColumns => _fill.Specs.Select(s => s.Column).ToList();

    /// <summary>
    /// What scoring data without a modality's column does: <see cref="MissingModalityPolicy.Error"/> (default) or
    /// <see cref="MissingModalityPolicy.Zeros"/>. Saved with the model.
    /// </summary>
    public MissingModalityPolicy MissingModality
    {
        get => Description.Properties.TryGetValue(MissingModalityProperty, out var v) && Enum.TryParse<MissingModalityPolicy>(v, out var p) ? p : MissingModalityPolicy.Error;
        set
        {
            if (!Enum.IsDefined(value)) throw new ArgumentOutOfRangeException(nameof(value), value, "MissingModality must be Error or Zeros.");
            Description.Properties[MissingModalityProperty] = value.ToString();
        }
    }

    private protected override MLNetInternals.ModelVersion PersistenceVersion => Version;

    /// <inheritdoc/>
    protected override IReadOnlyList<InputSpec> BindFeatures(DataViewSchema schema)
    {
        var bound = new List<InputSpec>();
        var missing = new List<string>();
        foreach (var s in FeatureInputs)
        {
            if (schema.GetColumnOrNull(s.Column) != null) { bound.Add(s.Resolve(schema)); continue; }
            if (MissingModality != MissingModalityPolicy.Zeros)
                throw new ArgumentOutOfRangeException(nameof(schema),
                    $"Input column '{s.Column}' (GeminiFusion modality {_fill.Specs.IndexOf(s)}) was not found; expected {s.Expected}. " +
                    $"Set {nameof(MissingModality)} = {nameof(MissingModalityPolicy.Zeros)} to serve without it (that modality is then all zeros).");
            missing.Add(s.Column);
        }
        if (bound.Count == 0)
            throw new ArgumentOutOfRangeException(nameof(schema), $"None of the GeminiFusion modality columns ({string.Join(", ", ModalityColumns)}) is in the data.");
        return bound;
    }

    /// <summary>The segmenter's outputs: ensemble scores and map, then per requested branch the same pair.</summary>
    public static OutputSpec[] Outputs(int classes, int height, int width, string scoreColumn, string predictedLabelColumn, IReadOnlyList<string>? branchSuffixes = null)
    {
        var list = new List<OutputSpec>();
        void Add(string score, string label, string source)
        {
            list.Add(new OutputSpec(score, OutputKind.Scores, source) { Shape = new[] { classes, height, width }, Classes = classes, Activation = OutputActivation.Softmax });
            list.Add(new OutputSpec(label, OutputKind.ArgmaxKeyMap, source)
                { Shape = new[] { height * width }, Classes = classes, Activation = OutputActivation.Softmax, ClassAnnotations = true });
        }
        Add(scoreColumn, predictedLabelColumn, TorchNetwork.LogitsSlot);
        if (branchSuffixes != null)
            for (int m = 0; m < branchSuffixes.Count; m++)
                Add($"{scoreColumn}.{branchSuffixes[m]}", $"{predictedLabelColumn}.{branchSuffixes[m]}", GeminiFusionArchitecture.BranchSlot(m));
        return list.ToArray();
    }

    /// <summary>ML.NET's loader entry (<c>SignatureLoadModel</c>).</summary>
    private static GeminiFusionTransformer Create(IHostEnvironment env, object ctx)
    {
        var load = MLNetInternals.OpenLoad(ctx, Version, typeof(GeminiFusionTransformer));
        var l = LoadV2(env, load, typeof(GeminiFusionTransformer), load.Reader.ReadString());
        return new GeminiFusionTransformer(env, l.Description, l.Network, l.Device);
    }

    internal static void RegisterLoader(ComponentCatalog catalog) =>
        RegisterLoader(catalog, typeof(GeminiFusionTransformer), LoaderSignature);

    /// <summary>The network's forward with every modality slot the batch lacks filled with the column's zeros (normalised as the column would be).</summary>
    private sealed class ZeroFill
    {
        private readonly TorchNetwork _inner;
        public ZeroFill(ModelDescription d, TorchNetwork inner)
        {
            _inner = inner;
            Specs = d.Features.ToList(); // declared in modality order
            Network = new TorchNetwork(inner.Module, Forward);
        }
        public List<InputSpec> Specs { get; }
        public TorchNetwork Network { get; }
        public Device Device { get; set; } = CPU;

        private IReadOnlyDictionary<string, Tensor> Forward(IReadOnlyDictionary<string, Tensor> x)
        {
            if (Specs.All(s => x.ContainsKey(s.Slot))) return _inner.Forward(x);
            long rows = x.Values.First().shape[0];
            var full = new Dictionary<string, Tensor>(x, StringComparer.Ordinal);
            foreach (var s in Specs.Where(s => !x.ContainsKey(s.Slot)))
            {
                var (_, _, rowShape, _) = s.Buffers().Single();
                var z = torch.zeros(new[] { rows }.Concat(rowShape).ToArray(), device: Device);
                full[s.Slot] = s is ImageInputSpec img ? img.Normalize(z) : z;
            }
            return _inner.Forward(full);
        }
    }
}

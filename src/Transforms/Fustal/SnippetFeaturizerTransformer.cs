using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Interop;
using MLNetExtensions.Core.IO;
using MLNetExtensions.Core.Torch;
using MLNetExtensions.Transforms.SqueezeTime;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Fustal;

/// <summary>
/// Turns an untrimmed video's frames into a snippet-feature sequence with a frozen SqueezeTime backbone: the video's N
/// frames are cut into snippets of the backbone's clip length T every <see cref="Stride"/> frames
/// (T' = ⌊(N − T)/stride⌋ + 1, an incomplete tail is dropped as in I3D/CoLA feature extraction), each snippet goes
/// through the backbone (normalisation, stem, stages) and its final feature map is averaged over space → one
/// F-dimensional vector per snippet (F = the backbone's feature channels, the input of its classifier head). The
/// output, a Vector&lt;Single&gt; of T'·F values, snippet-major, is the <c>Features</c> column the FuSTAL teacher and student read.
/// </summary>
/// <remarks>
/// Lazy: a row's features are computed when its feature getter is called, once per row and cursor; put
/// <c>.AppendCacheCheckpoint(mlContext)</c> after it when training several epochs. The backbone runs in evaluation mode
/// (no dropout, BatchNorm running statistics) without gradients, so a row's features do not depend on its neighbours or
/// on <see cref="SnippetFeaturizerOptions.BatchSize"/> beyond float summation order. The backbone's weights are copied
/// in (the source classifier may be disposed) and saved in the model zip (safetensors, SHA-256 checked).
/// Errors name the column and the row: a frame vector that is not whole 3×H×W frames of the backbone's size, or a video
/// shorter than one snippet.
/// </remarks>
public sealed class SnippetFeaturizerTransformer : AppendedColumnsTransformer, IDisposable
{
    internal const string LoaderSignature = "MLNetExtSnippetFeat";
    private static readonly MLNetInternals.ModelVersion Version = new("MLXTSNFT", 0x00010001, 0x00010001, 0x00010001, LoaderSignature);
    private const string WeightsStream = "Backbone.safetensors";

    private readonly SqueezeTimeVideoNetwork _net;
    private readonly object _gate = new();
    private bool _disposed;

    /// <summary>What is saved besides the weights.</summary>
    private sealed record Description(string InputColumnName, string OutputColumnName, int Stride, int BatchSize, string Architecture, int NumClasses, string WeightsSha256);

    private SnippetFeaturizerTransformer(SnippetFeaturizerOptions options, SqueezeTimeVideoNetwork backbone)
    {
        options.Validate();
        _net = backbone;
        _net.eval();
        Options = options;
        Stride = options.SnippetStride ?? SnippetFrames;
    }

    /// <summary>A featuriser over a copy of <paramref name="backbone"/>'s weights (the classifier stays usable and owned by the caller).</summary>
    /// <exception cref="ArgumentException">The network is not a SqueezeTime video network.</exception>
    public static SnippetFeaturizerTransformer FromBackbone(SnippetFeaturizerOptions options, nn.Module backbone)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(backbone);
        options.Validate();
        if (backbone is not SqueezeTimeVideoNetwork st)
            throw new ArgumentException($"The snippet featuriser needs a SqueezeTime video network (a model of MulticlassClassification.Trainers.SqueezeTime); got {backbone.GetType().Name}.", nameof(backbone));
        var bytes = Weights(st);
        return new SnippetFeaturizerTransformer(options, Rebuild(st.Spec.ToJson(), st.Spec.Config.NumClasses, bytes, "backbone"));
    }

    /// <summary>The settings (columns, stride, batch).</summary>
    public SnippetFeaturizerOptions Options { get; }

    /// <summary>Frames per snippet T (the backbone's clip length).</summary>
    public int SnippetFrames => _net.Spec.Config.Frames;

    /// <summary>Frames between snippet starts.</summary>
    public int Stride { get; }

    /// <summary>Values per snippet F (the backbone's feature channels).</summary>
    public int FeatureSize => _net.Spec.Config.FeatureChannels;

    /// <summary>Frame height H the frames must have.</summary>
    public int FrameHeight => _net.Spec.Height;

    /// <summary>Frame width W the frames must have.</summary>
    public int FrameWidth => _net.Spec.Width;

    private int FrameSize => 3 * FrameHeight * FrameWidth;

    /// <summary>Snippets T' of a video of <paramref name="frames"/> frames (0 when shorter than one snippet).</summary>
    public int SnippetCount(int frames) => frames < SnippetFrames ? 0 : (frames - SnippetFrames) / Stride + 1;

    /// <inheritdoc/>
    protected override string[] SourceColumns => new[] { Options.InputColumnName };

    /// <summary>Checks that the frames column is a float vector (of whole frames of the backbone's size when its size is known).</summary>
    internal static void CheckInput(DataViewSchema schema, string column, int frameSize, int height, int width)
    {
        var col = schema.GetColumnOrNull(column) ?? throw SchemaError.Missing(column, "a Vector<Single> of N×3×H×W video frames (LoadVideoFrames with frames: 0)");
        if (col.Type is not VectorDataViewType { ItemType: NumberDataViewType n } v || n != NumberDataViewType.Single)
            throw SchemaError.WrongType(column, "a Vector<Single> of N×3×H×W video frames", col.Type);
        if (v.IsKnownSize && (v.Size % frameSize != 0 || (v.Dimensions.Length == 4 && (v.Dimensions[2] != height || v.Dimensions[3] != width))))
            throw new ArgumentOutOfRangeException(column, $"Column '{column}' holds {v} values; the backbone expects whole 3×{height}×{width} frames (decode with LoadVideoFrames(..., frames: 0, height: {height}, width: {width})).");
    }

    /// <inheritdoc/>
    protected override void AddOutputColumns(DataViewSchema input, DataViewSchema.Builder builder)
    {
        CheckInput(input, Options.InputColumnName, FrameSize, FrameHeight, FrameWidth);
        builder.AddColumn(Options.OutputColumnName, new VectorDataViewType(NumberDataViewType.Single));
    }

    /// <summary>The T'·F features of one video's frames (N×3×H×W values); <paramref name="row"/> names the row in errors.</summary>
    public float[] Featurize(ReadOnlySpan<float> frames, long row = -1)
    {
        var where = row >= 0 ? $"Column '{Options.InputColumnName}', row {row}" : $"Column '{Options.InputColumnName}'";
        if (frames.Length % FrameSize != 0)
            throw new InvalidDataException($"{where}: {frames.Length} values are not whole 3×{FrameHeight}×{FrameWidth} frames (the backbone's size); decode with LoadVideoFrames(..., frames: 0, height: {FrameHeight}, width: {FrameWidth}).");
        int n = frames.Length / FrameSize, count = SnippetCount(n);
        if (count == 0) throw new InvalidDataException($"{where}: the video has {n} frame(s), fewer than one snippet of {SnippetFrames}.");
        int clip = SnippetFrames * FrameSize, f = FeatureSize;
        var result = new float[count * f];
        var buffer = new float[Math.Min(Options.BatchSize, count) * clip];
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var noGrad = torch.no_grad();
            for (int s0 = 0; s0 < count; s0 += Options.BatchSize)
            {
                using var scope = torch.NewDisposeScope();
                int b = Math.Min(Options.BatchSize, count - s0);
                for (int i = 0; i < b; i++) frames.Slice((s0 + i) * Stride * FrameSize, clip).CopyTo(buffer.AsSpan(i * clip, clip));
                var x = torch.tensor(buffer.AsSpan(0, b * clip).ToArray(), new long[] { b, clip });
                var map = _net.Model.ForwardFeatures(_net.ToClips(x)); // (b, F, h, w)
                var pooled = map.mean(new long[] { 2, 3 }).contiguous();
                pooled.data<float>().ToArray().CopyTo(result, s0 * f);
            }
        }
        return result;
    }

    /// <inheritdoc/>
    protected override RowGetters MakeGetters(DataViewRow input) => new CachedVectorGetters<VBuffer<float>>(input, Options.InputColumnName,
        (frames, row) => frames.IsDense ? Featurize(frames.GetValues(), row) : Featurize(frames.DenseValues().ToArray(), row));

    // ---- persistence --------------------------------------------------------------------------------------------
    private static byte[] Weights(nn.Module net)
    {
        using var ms = new MemoryStream();
        SafeTensors.Write(ms, net.state_dict());
        return ms.ToArray();
    }


    private static SqueezeTimeVideoNetwork Rebuild(string architecture, int classes, byte[] weights, string source)
    {
        var net = (SqueezeTimeVideoNetwork)SqueezeTimeArchitecture.Build(architecture, classes);
        try
        {
            Dictionary<string, Tensor> tensors;
            using (var ms = new MemoryStream(weights)) tensors = SafeTensors.Read(ms);
            StateDicts.LoadStrict(net, tensors, source);
        }
        catch { net.Dispose(); throw; }
        net.eval();
        return net;
    }

    /// <inheritdoc/>
    protected override void SaveModel(ModelSaveContext ctx)
    {
        byte[] bytes;
        lock (_gate) { ObjectDisposedException.ThrowIf(_disposed, this); bytes = Weights(_net); }
        var d = new Description(Options.InputColumnName, Options.OutputColumnName, Stride, Options.BatchSize, _net.Spec.ToJson(), _net.Spec.Config.NumClasses, Checksums.Sha256Hex(bytes));
        MLNetInternals.Save(ctx, Version, typeof(SnippetFeaturizerTransformer), w => w.Write(JsonSerializer.Serialize(d)),
            new (string, Action<BinaryWriter>)[] { (WeightsStream, w => w.Write(bytes)) });
    }

    /// <summary>ML.NET's loader entry (<c>SignatureLoadModel</c>); <paramref name="ctx"/> is its ModelLoadContext.</summary>
    private static SnippetFeaturizerTransformer Create(IHostEnvironment env, object ctx)
    {
        var load = MLNetInternals.OpenLoad(ctx, Version, typeof(SnippetFeaturizerTransformer));
        var d = JsonSerializer.Deserialize<Description>(load.Reader.ReadString()) ?? throw new InvalidDataException("The snippet featuriser's description is empty.");
        var bytes = load.ReadStream(WeightsStream, r => { using var ms = new MemoryStream(); r.BaseStream.CopyTo(ms); return ms.ToArray(); });
        if (!string.Equals(Checksums.Sha256Hex(bytes), d.WeightsSha256, StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException($"The snippet featuriser's model zip is corrupt: stream '{WeightsStream}' does not match its SHA-256.");
        var options = new SnippetFeaturizerOptions { InputColumnName = d.InputColumnName, OutputColumnName = d.OutputColumnName, SnippetStride = d.Stride, BatchSize = d.BatchSize };
        return new SnippetFeaturizerTransformer(options, Rebuild(d.Architecture, d.NumClasses, bytes, "model zip"));
    }

    internal static void RegisterLoader(ComponentCatalog catalog) =>
        MLNetInternals.RegisterCreateLoader(catalog, typeof(SnippetFeaturizerTransformer), LoaderSignature);

    /// <summary>Releases the backbone.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _net.Dispose();
        }
    }
}

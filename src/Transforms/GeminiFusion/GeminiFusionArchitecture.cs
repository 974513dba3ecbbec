using System.Text.Json;
using MLNetExtensions.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.GeminiFusion;

/// <summary>
/// What a saved GeminiFusion segmenter needs to rebuild its network: the MiT variant, the number of modalities, the
/// decoder width, the input size and whether BatchNorm stays frozen in training. The network reads one slot per
/// modality (<see cref="Slot"/>: a (B, C, H, W) image batch, or a (B, H, W) / (B, 1, H, W) map tiled to the backbone's
/// input channels, the official depth treatment) and writes the ensemble logits to <see cref="TorchNetwork.LogitsSlot"/>
/// and each branch's to <see cref="BranchSlot"/>, all resized to H×W (bicubic, as the official evaluation).
/// </summary>
/// <param name="Backbone">MiT variant (official <c>mit_b0</c> … <c>mit_b5</c>, or a small one).</param>
/// <param name="Modalities">Number of modalities M ≥ 2 (official 2).</param>
/// <param name="EmbeddingDim">SegFormer decoder width (official 256).</param>
/// <param name="Height">Input height H (a multiple of the backbone's output stride).</param>
/// <param name="Width">Input width W.</param>
/// <param name="FreezeBatchNorm">Official <c>--freeze-bn</c> (default on): BatchNorm stays in eval mode in training.</param>
public sealed record GeminiFusionArchitecture(MitConfig Backbone, int Modalities, int EmbeddingDim, int Height, int Width, bool FreezeBatchNorm = true)
    : IModelArchitecture
{
    /// <summary>Ablation switches (not official; null = the official module everywhere).</summary>
    public GeminiFusionAblation? Ablation { get; init; }

    string IModelArchitecture.ArchitectureName => Name;

    /// <summary>Name in <see cref="TorchModelRegistry"/>.</summary>
    public const string Name = "geminifusion-mit";

    /// <summary>Input slot of modality <paramref name="m"/> (0 = the official RGB stream).</summary>
    public static string Slot(int m) => $"modality{m}";

    /// <summary>Output slot of branch <paramref name="m"/>'s logits (the shared decoder on modality m's features).</summary>
    public static string BranchSlot(int m) => $"{TorchNetwork.LogitsSlot}.branch{m}";

    /// <summary>Throws a clear <see cref="ArgumentException"/> for an unusable record.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Backbone, nameof(Backbone));
        Backbone.Validate();
        if (Modalities < 2) throw new ArgumentOutOfRangeException(nameof(Modalities), Modalities, "GeminiFusion needs at least two modalities.");
        if (EmbeddingDim < 1) throw new ArgumentOutOfRangeException(nameof(EmbeddingDim), EmbeddingDim, "EmbeddingDim must be ≥ 1.");
        int s = Backbone.OutputStride;
        if (Height < s || Width < s || Height % s != 0 || Width % s != 0)
            throw new ArgumentOutOfRangeException(nameof(Height), $"Inputs of {Width}×{Height} do not suit {Backbone.Name}: height and width must be positive multiples of {s}.");
    }

    /// <summary>The untrained network of this record (official initialisation; draws from TorchSharp's global generator).</summary>
    public GeminiFusionNetwork CreateModule(int numClasses)
    {
        Validate();
        var net = new GeminiFusionNetwork(Backbone, numClasses, Modalities, EmbeddingDim) { FreezeBatchNorm = FreezeBatchNorm };
        Ablation?.Apply(net.Encoder);
        return net;
    }

    /// <summary>
    /// The per-modality (B, InChannels, H, W) batches of the named inputs: image slots as they are, 1-channel maps
    /// (B, H, W), (B, 1, H, W) or (B, H·W) tiled to the input channels (official: depth repeated to 3 channels).
    /// </summary>
    public Tensor[] Images(IReadOnlyDictionary<string, Tensor> inputs)
    {
        var images = new Tensor[Modalities];
        int c = Backbone.InChannels;
        for (int m = 0; m < Modalities; m++)
        {
            if (!inputs.TryGetValue(Slot(m), out var t))
                throw new KeyNotFoundException($"GeminiFusion reads slot '{Slot(m)}' (modality {m}); the batch has {string.Join(", ", inputs.Keys)}.");
            long b = t.shape[0], values = t.numel() / Math.Max(1, b);
            if (values != (long)Height * Width && values != (long)c * Height * Width)
                throw new ArgumentException($"Modality {m} holds {values} values per row; expected {Height}×{Width} (a map) or {c}×{Height}×{Width} (an image).");
            var x = t.reshape(b, -1, Height, Width);
            images[m] = x.shape[1] == c ? x : x.expand(b, c, Height, Width).contiguous();
        }
        return images;
    }

    /// <summary>The serving outputs of a forward: ensemble and branch logits resized to H×W (bicubic, align_corners false; official eval resizes the logits with cv2 bicubic).</summary>
    public Dictionary<string, Tensor> Outputs(GeminiFusionOutput output)
    {
        var size = new long[] { Height, Width };
        Tensor Up(Tensor t) => nn.functional.interpolate(t, size: size, mode: InterpolationMode.Bicubic, align_corners: false);
        var d = new Dictionary<string, Tensor>(StringComparer.Ordinal) { [TorchNetwork.LogitsSlot] = Up(output.Ensemble) };
        for (int m = 0; m < output.Branches.Length; m++) d[BranchSlot(m)] = Up(output.Branches[m]);
        return d;
    }

    /// <summary>The registry's factory: the record's network with its named forward (official state-dict names, no prefix).</summary>
    public static TorchNetwork Build(string json, int numClasses)
    {
        var a = JsonSerializer.Deserialize<GeminiFusionArchitecture>(json) ?? throw new InvalidDataException("Empty GeminiFusion architecture record.");
        var net = a.CreateModule(numClasses);
        return new TorchNetwork(net, inputs => a.Outputs(net.Run(a.Images(inputs))));
    }
}

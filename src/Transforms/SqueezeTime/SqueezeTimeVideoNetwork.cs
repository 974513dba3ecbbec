using MLNetExtensions.Core.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.SqueezeTime;

/// <summary>
/// Serving/training adapter around <see cref="SqueezeTimeModel"/> for flat clip vectors: takes a batch of raw [0,1]
/// clips laid out T×C×H×W (any leading shape that flattens to N × T·C·H·W, e.g. the (N, 1, T·C·H, W) "image" batches of
/// the shared image pipeline), reorders them to mmaction's (N, C, T, H, W), normalises with
/// <c>(255·v − mean)/std</c> as the official data preprocessor, and returns logits.
/// </summary>
public sealed class SqueezeTimeVideoNetwork : nn.Module<Tensor, Tensor>
{
    private readonly SqueezeTimeModel model;
    private readonly float[] _mean, _std;

    /// <summary>Builds the network (official random initialisation).</summary>
    public SqueezeTimeVideoNetwork(SqueezeTimeArchitecture spec) : base(nameof(SqueezeTimeVideoNetwork))
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Config.Validate();
        if (spec.PixelMean.Length != spec.Config.ImageChannels || spec.PixelStd.Length != spec.Config.ImageChannels)
            throw new ArgumentException($"PixelMean and PixelStd need {spec.Config.ImageChannels} values.", nameof(spec));
        Spec = spec;
        model = new SqueezeTimeModel(spec.Config);
        _mean = spec.PixelMean.ToArray();
        _std = spec.PixelStd.ToArray();
        RegisterComponents();
    }

    /// <summary>Geometry and configuration.</summary>
    public SqueezeTimeArchitecture Spec { get; }

    /// <summary>The SqueezeTime recognizer (official parameter names below this module's <c>model.</c> prefix).</summary>
    public SqueezeTimeModel Model => model;

    /// <summary>Normalised (N, C, T, H, W) clip batch from raw [0,1] T×C×H×W rows.</summary>
    public Tensor ToClips(Tensor x)
    {
        var c = Spec.Config;
        long n = x.shape[0];
        if (x.numel() != n * Spec.ClipSize)
            throw new ArgumentException($"Expected {Spec.ClipSize} values per clip (T={c.Frames} × C={c.ImageChannels} × H={Spec.Height} × W={Spec.Width}); got {(n == 0 ? 0 : x.numel() / n)}.", nameof(x));
        using var scope = NewDisposeScope();
        var clips = x.reshape(n, c.Frames, c.ImageChannels, Spec.Height, Spec.Width).permute(0, 2, 1, 3, 4);
        var mean = tensor(_mean, new long[] { 1, c.ImageChannels, 1, 1, 1 }).to(x.device);
        var std = tensor(_std, new long[] { 1, c.ImageChannels, 1, 1, 1 }).to(x.device);
        // contiguous NCTHW, so the backbone's squeeze reshape gives colour-major channels c·T + t.
        return ((clips.Times(255f) - mean) / std).contiguous().MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var clips = ToClips(x);
        return model.call(clips);
    }
}

using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MLNetExtensions.Transforms.SqueezeTime;

/// <summary>
/// SqueezeTime video classifier (mmaction <c>Recognizer3D</c> with the <c>SqueezeTime</c> backbone and <c>I2DHead</c>):
/// a clip (N, C, T, H, W) → logits (N, classes). State-dict keys equal the official mmaction ones
/// (<c>backbone.net.*</c>, <c>cls_head.fc_cls.*</c>), so an official checkpoint's <c>state_dict</c> loads strictly.
/// </summary>
/// <remarks>
/// Input layout is mmaction's <c>NCTHW</c>: batch, colour channels, frames, height, width, already normalised
/// (official configs: (pixel − <see cref="SqueezeTimeConfig.PixelMean"/>) / <see cref="SqueezeTimeConfig.PixelStd"/>
/// on 0–255 RGB). Time is squeezed into channels as <c>c·T + t</c>.
/// </remarks>
public sealed class SqueezeTimeModel : Module<Tensor, Tensor>
{
    private readonly SqueezeTimeBackbone backbone;
    [ComponentName(Name = "cls_head")] private readonly SqueezeTimeHead clsHead;

    /// <summary>Builds the model with the official random initialisation.</summary>
    public SqueezeTimeModel(SqueezeTimeConfig config) : base(nameof(SqueezeTimeModel))
    {
        ArgumentNullException.ThrowIfNull(config);
        backbone = new SqueezeTimeBackbone(config);
        clsHead = new SqueezeTimeHead(config.FeatureChannels, config.NumClasses, config.DropoutRatio);
        Config = config;
        RegisterComponents();
    }

    /// <summary>The architecture.</summary>
    public SqueezeTimeConfig Config { get; }

    /// <summary>The backbone (official <c>backbone</c>).</summary>
    public SqueezeTimeBackbone Backbone => backbone;

    /// <summary>The classification head (official <c>cls_head</c>).</summary>
    public SqueezeTimeHead Head => clsHead;

    /// <summary>Backbone feature map (N, F, h, w) of a clip (N, C, T, H, W); h, w = H/32, W/32 with the default strides.</summary>
    /// <exception cref="ArgumentException">Wrong rank, colour channels, frame count, dtype or a too small spatial size.</exception>
    public Tensor ForwardFeatures(Tensor clip) => backbone.call(clip);

    /// <summary>Stem and stage outputs [stem, layer1, layer2, layer3, layer4] of a clip (N, C, T, H, W).</summary>
    public IReadOnlyList<Tensor> ForwardIntermediates(Tensor clip) => backbone.Net.ForwardIntermediates(clip);

    /// <summary>Logits of a backbone feature map.</summary>
    public Tensor ForwardHead(Tensor features) => clsHead.call(features);

    /// <summary>Logits (N, classes) of a clip (N, C, T, H, W).</summary>
    /// <exception cref="ArgumentException">Wrong rank, colour channels, frame count, dtype or a too small spatial size.</exception>
    public override Tensor forward(Tensor clip)
    {
        using var features = ForwardFeatures(clip);
        return clsHead.call(features);
    }
}

using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MLNetExtensions.Transforms.SqueezeTime;

/// <summary>
/// Classification head (mmaction <c>I2DHead</c>, average pooling): global average pool → dropout → flatten →
/// <c>fc_cls</c>. Returns raw logits; mmaction's test-time softmax and view averaging are left to the caller.
/// </summary>
public sealed class SqueezeTimeHead : Module<Tensor, Tensor>
{
    [ComponentName(Name = "avg_pool")] private readonly AdaptiveAvgPool2d avgPool;
    private readonly Dropout? dropout;
    [ComponentName(Name = "fc_cls")] private readonly Linear fcCls;

    /// <summary>Creates the head.</summary>
    /// <param name="inChannels">Channels of the backbone feature map.</param>
    /// <param name="numClasses">Number of classes.</param>
    /// <param name="dropoutRatio">Dropout probability before the linear layer (0 = none, as in the official head).</param>
    public SqueezeTimeHead(long inChannels, long numClasses, double dropoutRatio = 0.5) : base(nameof(SqueezeTimeHead))
    {
        avgPool = AdaptiveAvgPool2d(1);
        dropout = dropoutRatio > 0 ? Dropout(dropoutRatio) : null;
        fcCls = Linear(inChannels, numClasses);
        RegisterComponents();
        // Official init_weights: normal_init(fc_cls, std=0.01), bias 0.
        using (no_grad())
        {
            init.normal_(fcCls.weight, 0, 0.01);
            init.zeros_(fcCls.bias);
        }
    }

    /// <summary>Logits (N, classes) of a feature map (N, F, h, w).</summary>
    public override Tensor forward(Tensor features)
    {
        using var scope = NewDisposeScope();
        var x = avgPool.call(features);
        if (dropout is not null) x = dropout.call(x);
        return fcCls.call(x.flatten(1)).MoveToOuterDisposeScope();
    }
}

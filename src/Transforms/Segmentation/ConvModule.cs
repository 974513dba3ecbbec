using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using MLNetExtensions.Transforms.Ssa;

namespace MLNetExtensions.Transforms.Segmentation;

/// <summary>
/// mmcv <c>ConvModule</c> with BatchNorm and ReLU (conv without bias since a norm follows):
/// keys <c>conv.weight</c>, <c>bn.weight</c>, <c>bn.bias</c>, <c>bn.running_mean</c>, <c>bn.running_var</c>, <c>bn.num_batches_tracked</c>.
/// </summary>
public sealed class ConvModule : Module<Tensor, Tensor>
{
    private readonly Conv2d conv;
    private readonly SafeBatchNorm2d bn;
    private readonly ReLU activate;

    /// <summary>Creates a k×k conv (padding k/2) + BN + ReLU.</summary>
    public ConvModule(int inChannels, int outChannels, int kernelSize = 1) : base(nameof(ConvModule))
    {
        conv = Conv2d(inChannels, outChannels, kernelSize, padding: kernelSize / 2, bias: false);
        // mmcv ConvModule.init_weights: kaiming_init(conv, a=0, mode='fan_out', nonlinearity='relu', normal); BN 1/0.
        using (torch.no_grad()) nn.init.kaiming_normal_(conv.weight!, 0, nn.init.FanInOut.FanOut, nn.init.NonlinearityType.ReLU);
        bn = new SafeBatchNorm2d(outChannels);
        activate = ReLU();
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        return activate.call(bn.call(conv.call(x))).MoveToOuterDisposeScope();
    }
}

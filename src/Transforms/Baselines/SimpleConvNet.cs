using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Baselines;

/// <summary>Width and depth of <see cref="SimpleConvNet"/>.</summary>
/// <param name="InChannels">Input channels.</param>
/// <param name="Width">Channels of the first stage (doubled per stage).</param>
/// <param name="Stages">Conv–BN–ReLU stages, each halving the resolution.</param>
public sealed record SimpleConvNetConfig(int InChannels = 3, int Width = 16, int Stages = 3) : MLNetExtensions.Core.Models.IModelArchitecture
{
    string MLNetExtensions.Core.Models.IModelArchitecture.ArchitectureName => SimpleConvNet.Architecture;
}

/// <summary>
/// A plain conv net (conv-BN-ReLU stages, global average pool, linear head): the suite's baseline for
/// "similar size" comparisons and the small network of the machinery's fast tests.
/// </summary>
public sealed class SimpleConvNet : nn.Module<Tensor, Tensor>
{
    /// <summary>Architecture name in <see cref="Core.Inference.TorchModelRegistry"/>.</summary>
    public const string Architecture = "simple-cnn";

    private readonly Sequential features;
    private readonly Linear head;

    public SimpleConvNet(SimpleConvNetConfig config, int numClasses) : base(nameof(SimpleConvNet))
    {
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>();
        int cin = config.InChannels;
        for (int s = 0; s < config.Stages; s++)
        {
            int cout = config.Width << s;
            layers.Add(($"{3 * s}", nn.Conv2d(cin, cout, 3, stride: 2, padding: 1, bias: false)));
            layers.Add(($"{3 * s + 1}", new SafeBatchNorm2d(cout)));
            layers.Add(($"{3 * s + 2}", nn.ReLU()));
            cin = cout;
        }
        features = nn.Sequential(layers);
        head = nn.Linear(cin, numClasses);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        if (x.dim() != 4) throw new ArgumentException($"SimpleConvNet expects (B, C, H, W); got {x.dim()} dimensions.");
        return head.call(features.call(x).mean(new long[] { 2, 3 }));
    }
}

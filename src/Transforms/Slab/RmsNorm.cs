using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Slab;

/// <summary>
/// RMSNorm as LLaMA's <c>LlamaRMSNorm</c>: <c>weight · x / √(mean(x²) + eps)</c> over the last dimension,
/// statistics in float32. Key: <c>weight</c>.
/// </summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;

    /// <summary>Creates an RMSNorm over <paramref name="channels"/> channels (weight starts at 1).</summary>
    public RmsNorm(long channels, double eps = 1e-6) : base(nameof(RmsNorm))
    {
        Eps = eps;
        weight = nn.Parameter(torch.ones(channels));
        RegisterComponents();
    }

    /// <summary>Epsilon inside the square root.</summary>
    public double Eps { get; }

    /// <summary>Normalises over the last dimension.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var variance = x.to(float32).Power(2).mean(new long[] { -1 }, keepdim: true);
        var y = x * torch.rsqrt(variance.Plus(Eps));
        return (weight * y).to(x.dtype).MoveToOuterDisposeScope();
    }
}

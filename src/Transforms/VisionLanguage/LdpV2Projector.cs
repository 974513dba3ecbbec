using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.VisionLanguage;

/// <summary>
/// MobileVLM V2's LDPv2 projector at miniature scale (Align-KD note §2.1, §5.2): per-token MLP
/// <c>Linear(C→D) → GELU → Linear(D→D)</c>, a 2-D average pool of the token grid (8×8 → 4×4 here), then the PEG
/// (depthwise 3×3 conv, bias, plus residual) and a row-major flatten. Keys follow MobileVLM: <c>mlp.0</c>,
/// <c>mlp.2</c>, <c>peg.peg.0</c>.
/// </summary>
public sealed class LdpV2Projector : nn.Module<Tensor, Tensor>
{
    private readonly Sequential mlp;
    private readonly PegLayer peg;

    /// <summary>Creates the projector: input channels, LM width, output grid side.</summary>
    public LdpV2Projector(int inChannels, int dModel, int pooledSide) : base(nameof(LdpV2Projector))
    {
        if (inChannels < 1 || dModel < 1 || pooledSide < 1)
            throw new ArgumentOutOfRangeException(nameof(dModel), $"LdpV2Projector: channels, width and pooled side must be ≥ 1; got {inChannels}, {dModel}, {pooledSide}.");
        InChannels = inChannels; DModel = dModel; PooledSide = pooledSide;
        mlp = nn.Sequential(("0", nn.Linear(inChannels, dModel)), ("1", nn.GELU()), ("2", nn.Linear(dModel, dModel)));
        peg = new PegLayer(dModel);
        RegisterComponents();
    }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }
    /// <summary>Output width (the LM's d).</summary>
    public int DModel { get; }
    /// <summary>Side of the pooled grid (tokens = side²).</summary>
    public int PooledSide { get; }

    /// <summary>Projected vision tokens Z (B, side², D) of a grid (B, C, H, W).</summary>
    public override Tensor forward(Tensor grid)
    {
        if (grid.dim() != 4 || grid.shape[1] != InChannels)
            throw new ArgumentException($"LdpV2Projector: grid must be (B, {InChannels}, H, W), got ({string.Join(", ", grid.shape)}).");
        using var scope = NewDisposeScope();
        long b = grid.shape[0], h = grid.shape[2], w = grid.shape[3];
        var tokens = mlp.call(grid.flatten(2).transpose(1, 2));                      // (B, H·W, D)
        var x = tokens.transpose(1, 2).reshape(b, DModel, h, w);
        x = nn.functional.adaptive_avg_pool2d(x, new long[] { PooledSide, PooledSide });
        x = peg.call(x);
        return x.flatten(2).transpose(1, 2).contiguous().MoveToOuterDisposeScope();  // (B, side², D)
    }

    /// <summary>PEG: depthwise 3×3 conv with bias plus the residual (MobileVLM's PosInjectLayer).</summary>
    private sealed class PegLayer : nn.Module<Tensor, Tensor>
    {
        private readonly Sequential peg;
        public PegLayer(int d) : base("PosInjectLayer")
        {
            peg = nn.Sequential(("0", nn.Conv2d(d, d, 3, stride: 1, padding: 1, groups: d, bias: true)));
            RegisterComponents();
        }
        public override Tensor forward(Tensor x) => peg.call(x).Plus(x);
    }
}

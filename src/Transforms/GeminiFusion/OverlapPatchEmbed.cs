using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.GeminiFusion;

/// <summary>
/// Official MiT <c>OverlapPatchEmbed</c>: a shared strided conv (kernel k, padding k/2) applied to every modality,
/// flattened to tokens, then a per-modality LayerNorm. Keys <c>proj.module.*</c>, <c>norm.ln_i.*</c>.
/// </summary>
public sealed class OverlapPatchEmbed : nn.Module<IReadOnlyList<Tensor>, (Tensor[] Tokens, long H, long W)>
{
    private readonly ModuleParallel proj;
    private readonly LayerNormParallel norm;

    /// <summary>Creates the embedding (official init: conv N(0, 2/fan_out) with fan_out = k·k·dim, bias 0).</summary>
    public OverlapPatchEmbed(int inChannels, int embedDim, int kernel, int stride, int modalities) : base(nameof(OverlapPatchEmbed))
    {
        proj = new ModuleParallel(MitInit.Conv2d(inChannels, embedDim, kernel, stride, kernel / 2, 1));
        norm = new LayerNormParallel(embedDim, modalities);
        RegisterComponents();
    }

    /// <summary>Tokens (B, H′·W′, C) per modality and the token grid H′×W′, for images (B, in, H, W).</summary>
    public override (Tensor[] Tokens, long H, long W) forward(IReadOnlyList<Tensor> x)
    {
        using var scope = torch.NewDisposeScope();
        var maps = proj.call(x);
        long h = maps[0].shape[2], w = maps[0].shape[3];
        var tokens = norm.call(maps.Select(t => t.flatten(2).transpose(1, 2)).ToArray());
        foreach (var t in tokens) t.MoveToOuterDisposeScope();
        return (tokens, h, w);
    }
}

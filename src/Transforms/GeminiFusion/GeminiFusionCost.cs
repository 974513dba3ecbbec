using MLNetExtensions.Core.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.GeminiFusion;

/// <summary>
/// Parameters and multiply-accumulates of one <see cref="GeminiFusionNetwork"/> forward pass (all modalities, decoder on
/// every branch, ensemble), counted by <see cref="MacCounter"/> on a real CPU forward pass (LibTorch 2.10 has no META kernel for
/// convolutions), so large inputs of large variants take seconds to minutes.
/// </summary>
/// <param name="Variant">MiT variant name.</param>
/// <param name="Height">Input height.</param>
/// <param name="Width">Input width.</param>
/// <param name="Parameters">All parameters (encoder, decoder, alpha).</param>
/// <param name="FusionParameters">Parameters of the fusion modules (<c>cross_attn_*</c>, <c>relation_judger</c>, noise tables).</param>
/// <param name="Macs">All MACs of the forward pass.</param>
/// <param name="FusionMacs">MACs of the fusion modules (both directions, every block).</param>
/// <param name="BlockMacs">MACs of the dual-stream MiT blocks without the fusion (q/kv/proj, spatial reduction, attention matmuls, Mix-FFN).</param>
/// <param name="PatchEmbedMacs">MACs of the overlapping patch embeddings.</param>
/// <param name="DecoderMacs">MACs of the SegFormer head, applied to every modality's features.</param>
public sealed record GeminiFusionCost(string Variant, int Height, int Width, long Parameters, long FusionParameters,
    long Macs, long FusionMacs, long BlockMacs, long PatchEmbedMacs, long DecoderMacs)
{
    /// <summary>
    /// Builds <paramref name="backbone"/> with the decoder of <paramref name="embeddingDim"/> and
    /// <paramref name="numClasses"/> and counts one forward pass of batch 1 at
    /// <paramref name="height"/>×<paramref name="width"/> per modality. Optionally applies <paramref name="ablation"/>.
    /// </summary>
    public static GeminiFusionCost Measure(MitConfig backbone, int height, int width, int numClasses = 40,
        int modalities = 2, int embeddingDim = GeminiFusionNetwork.DefaultEmbeddingDim, GeminiFusionAblation? ablation = null)
    {
        ArgumentNullException.ThrowIfNull(backbone);
        if (height < 1 || width < 1 || height % backbone.OutputStride != 0 || width % backbone.OutputStride != 0)
            throw new ArgumentOutOfRangeException(nameof(height), $"{height}×{width}: height and width must be positive multiples of the backbone's output stride {backbone.OutputStride}.");
        {
            using var net = new GeminiFusionNetwork(backbone, numClasses, modalities, embeddingDim);
            ablation?.Apply(net.Encoder);
            net.eval();
            var images = Enumerable.Range(0, modalities).Select(_ => torch.zeros(1, backbone.InChannels, height, width)).ToArray();
            var report = MacCounter.Count(net, () =>
            {
                using var scope = torch.NewDisposeScope();
                net.call(images);
            });
            foreach (var t in images) t.Dispose();
            long fusionParams = net.Encoder.FusionLayers.Sum(f => f.parameters().Sum(p => p.numel()));
            long fusion = report.MacsWhere(IsFusion);
            long decoder = report.MacsWhere(k => k.StartsWith("decoder.", StringComparison.Ordinal));
            long embeds = report.MacsWhere(k => k.StartsWith("encoder.patch_embed", StringComparison.Ordinal));
            long blocks = report.MacsWhere(k => k.StartsWith("encoder.block", StringComparison.Ordinal) && !IsFusion(k));
            if (fusion + decoder + embeds + blocks != report.Macs)
                throw new InvalidOperationException($"Uncategorised MACs: {report.Macs - fusion - decoder - embeds - blocks} (sources: {string.Join(", ", report.ByModule.Keys.Take(5))} …).");
            return new GeminiFusionCost(backbone.Name, height, width, report.Parameters, fusionParams, report.Macs, fusion, blocks, embeds, decoder);
        }
    }

    /// <summary>
    /// The note's analytic MACs of one fusion layer (both directions) over N tokens of width C: N·(18C² + 8C) (per
    /// direction 6C² of projections, 3C² of relation judger, 4C of scores and weighted sum).
    /// </summary>
    public static long AnalyticFusionMacs(long tokens, long dim) => tokens * (18 * dim * dim + 8 * dim);

    private static bool IsFusion(string key) => key.Contains(".cross_attn_", StringComparison.Ordinal) || key.Contains(".relation_judger.", StringComparison.Ordinal);
}

using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.GeminiFusion;

/// <summary>
/// Official GeminiFusion <c>MixVisionTransformer</c> (models/mix_transformer.py): a weight-shared multi-stream MiT in
/// which every block fuses the modalities with <see cref="GeminiFusionLayer"/>. Per stage: overlapping patch
/// embedding, the blocks, a per-modality LayerNorm, reshape to a feature map. Keys <c>patch_embed{s}.*</c>,
/// <c>block{s}.{i}.*</c>, <c>norm{s}.ln_i.*</c> for stages s = 1…4, as the official encoder (the official
/// checkpoints' <c>encoder.*</c> entries without the prefix).
/// </summary>
public sealed class GeminiMitEncoder : nn.Module<IReadOnlyList<Tensor>, Tensor[][]>
{
    // Declared in the official registration order; stages beyond Config.NumStages stay null (not registered).
    private readonly OverlapPatchEmbed patch_embed1;
    private readonly OverlapPatchEmbed? patch_embed2;
    private readonly OverlapPatchEmbed? patch_embed3;
    private readonly OverlapPatchEmbed? patch_embed4;
    private readonly ModuleList<GeminiMitBlock> block1;
    private readonly LayerNormParallel norm1;
    private readonly ModuleList<GeminiMitBlock>? block2;
    private readonly LayerNormParallel? norm2;
    private readonly ModuleList<GeminiMitBlock>? block3;
    private readonly LayerNormParallel? norm3;
    private readonly ModuleList<GeminiMitBlock>? block4;
    private readonly LayerNormParallel? norm4;

    private readonly OverlapPatchEmbed[] _embeds;
    private readonly ModuleList<GeminiMitBlock>[] _blocks;
    private readonly LayerNormParallel[] _norms;

    /// <summary>
    /// Builds the encoder with the official from-scratch initialisation; draws from TorchSharp's global generator
    /// (call <c>torch.manual_seed</c> first for reproducible weights).
    /// </summary>
    public GeminiMitEncoder(MitConfig config, int modalities = 2) : base(nameof(GeminiMitEncoder))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        if (modalities < 2) throw new ArgumentOutOfRangeException(nameof(modalities), modalities, "GeminiFusion needs at least two modalities.");
        Config = config;
        Modalities = modalities;
        int s = config.NumStages, total = config.Depths.Sum(), cur = 0;
        _embeds = new OverlapPatchEmbed[s];
        _blocks = new ModuleList<GeminiMitBlock>[s];
        _norms = new LayerNormParallel[s];
        for (int i = 0; i < s; i++)
        {
            int dim = config.EmbedDims[i];
            _embeds[i] = new OverlapPatchEmbed(i == 0 ? config.InChannels : config.EmbedDims[i - 1], dim,
                MitConfig.PatchKernel(i), MitConfig.PatchStride(i), modalities);
            var blocks = new GeminiMitBlock[config.Depths[i]];
            for (int j = 0; j < blocks.Length; j++, cur++)
            {
                double dpr = total > 1 ? config.DropPathRate * cur / (total - 1) : 0.0;
                blocks[j] = new GeminiMitBlock(dim, config.NumHeads[i], modalities, config.MlpRatios[i], config.QkvBias,
                    config.SrRatios[i], config.CrossHeads, config.DropRate, config.AttnDropRate, dpr);
            }
            _blocks[i] = nn.ModuleList(blocks);
            _norms[i] = new LayerNormParallel(dim, modalities);
        }
        patch_embed1 = _embeds[0];
        patch_embed2 = s > 1 ? _embeds[1] : null;
        patch_embed3 = s > 2 ? _embeds[2] : null;
        patch_embed4 = s > 3 ? _embeds[3] : null;
        block1 = _blocks[0];
        norm1 = _norms[0];
        block2 = s > 1 ? _blocks[1] : null;
        norm2 = s > 1 ? _norms[1] : null;
        block3 = s > 2 ? _blocks[2] : null;
        norm3 = s > 2 ? _norms[2] : null;
        block4 = s > 3 ? _blocks[3] : null;
        norm4 = s > 3 ? _norms[3] : null;
        RegisterComponents();
    }

    /// <summary>The configuration.</summary>
    public MitConfig Config { get; }

    /// <summary>Number of modalities.</summary>
    public int Modalities { get; }

    /// <summary>Widths of the feature maps, one per stage.</summary>
    public IReadOnlyList<int> EmbedDims => Config.EmbedDims;

    /// <summary>The blocks of stage s (0-based).</summary>
    public ModuleList<GeminiMitBlock> Blocks(int stage) => _blocks[stage];

    /// <summary>All fusion layers in network order (one per block).</summary>
    public IEnumerable<GeminiFusionLayer> FusionLayers => _blocks.SelectMany(b => b).Select(b => b.Attention.Fusion);

    /// <summary>
    /// Multi-scale features: result[m][s] is modality m's stage-s map (B, C_s, H/(4·2^s), W/(4·2^s)), for images
    /// (B, InChannels, H, W), one per modality.
    /// </summary>
    public override Tensor[][] forward(IReadOnlyList<Tensor> images)
    {
        CheckInput(images);
        using var scope = torch.NewDisposeScope();
        int m = Modalities;
        var outs = Enumerable.Range(0, m).Select(_ => new Tensor[Config.NumStages]).ToArray();
        IReadOnlyList<Tensor> x = images;
        for (int s = 0; s < Config.NumStages; s++)
        {
            var (tokens, h, w) = _embeds[s].call(x);
            Tensor[] y = tokens;
            foreach (var blk in _blocks[s]) y = blk.call(y, h, w);
            y = _norms[s].call(y);
            long b = y[0].shape[0];
            var maps = y.Select(t => t.reshape(b, h, w, -1).permute(0, 3, 1, 2).contiguous()).ToArray();
            for (int i = 0; i < m; i++) outs[i][s] = maps[i].MoveToOuterDisposeScope();
            x = maps;
        }
        return outs;
    }

    /// <summary>
    /// Runs the encoder and returns every block's fusion trace in network order (relation scores and the per-token,
    /// per-head weights over the keys), e.g. for the mean weight on the cross key per layer. Created in the caller's scope.
    /// </summary>
    public IReadOnlyList<GeminiFusionTrace> FusionTraces(IReadOnlyList<Tensor> images)
    {
        CheckInput(images);
        var traces = new List<GeminiFusionTrace>();
        IReadOnlyList<Tensor> x = images;
        for (int s = 0; s < Config.NumStages; s++)
        {
            var (tokens, h, w) = _embeds[s].call(x);
            Tensor[] y = tokens;
            foreach (var blk in _blocks[s])
            {
                var t = blk.Trace(y, h, w);
                traces.Add(t.Attention.Fusion);
                y = t.Outputs;
            }
            y = _norms[s].call(y);
            long b = y[0].shape[0];
            x = y.Select(t => t.reshape(b, h, w, -1).permute(0, 3, 1, 2).contiguous()).ToArray();
        }
        return traces;
    }

    /// <summary>Throws a clear <see cref="ArgumentException"/> unless <paramref name="images"/> holds one (B, InChannels, H, W) batch per modality, all of one shape.</summary>
    public void CheckInput(IReadOnlyList<Tensor> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count != Modalities)
            throw new ArgumentException($"GeminiFusion was built for {Modalities} modalities; got {images.Count} inputs.", nameof(images));
        for (int i = 0; i < images.Count; i++)
        {
            var t = images[i] ?? throw new ArgumentException($"Input of modality {i} is null.", nameof(images));
            if (t.dim() != 4 || t.shape[1] != Config.InChannels || !t.shape.SequenceEqual(images[0].shape))
                throw new ArgumentException(
                    $"Every modality must be a (B, {Config.InChannels}, H, W) batch of one shape (tile a 1-channel depth map to " +
                    $"{Config.InChannels} channels); modality {i} is [{string.Join(", ", t.shape)}], modality 0 is " +
                    $"[{string.Join(", ", images[0].shape)}].", nameof(images));
        }
    }
}

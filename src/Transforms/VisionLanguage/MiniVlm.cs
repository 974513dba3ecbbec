using MLNetExtensions.Core.Text;
using MLNetExtensions.Transforms.Language;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.VisionLanguage;

/// <summary>Outputs of one <see cref="MiniVlm"/> forward (spliced coordinates: L = T − 1 + N).</summary>
public sealed class VlmOutput : IDisposable
{
    internal VlmOutput(Tensor logits, Tensor visionTokens, Tensor? attention, Tensor mask, long[] visionStart, int visionCount)
    {
        Logits = logits; VisionTokens = visionTokens; Attention = attention; Mask = mask; VisionStart = visionStart; VisionCount = visionCount;
    }
    /// <summary>(B, L, V) logits.</summary>
    public Tensor Logits { get; }
    /// <summary>Projected vision tokens Z (B, N, D).</summary>
    public Tensor VisionTokens { get; }
    /// <summary>Layer-0 attention probabilities (B, H, L, L), query axis then key axis (null when not requested).</summary>
    public Tensor? Attention { get; }
    /// <summary>Spliced attention mask (B, L): 1 real, 0 pad.</summary>
    public Tensor Mask { get; }
    /// <summary>Per row, the first vision position s (the placeholder's index).</summary>
    public long[] VisionStart { get; }
    /// <summary>Vision tokens per image (N).</summary>
    public int VisionCount { get; }
    /// <inheritdoc/>
    public void Dispose() { Logits.Dispose(); VisionTokens.Dispose(); Attention?.Dispose(); Mask.Dispose(); }
}

/// <summary>
/// A LLaVA-style miniature VLM (Align-KD note §5.2): the frozen <see cref="ConvVisionTower"/> (never trained here:
/// its forward runs under no-grad, like CLIP in MobileVLM), the <see cref="LdpV2Projector"/> (<c>mm_projector</c>)
/// and a <see cref="CausalLm"/> (<c>lm</c>). The single <see cref="TextTokenizer.ImageId"/> placeholder of each row is
/// replaced by the N projected vision tokens; layer-0 attention is computed explicitly (no fused kernel).
/// </summary>
public sealed class MiniVlm : nn.Module<Tensor, Tensor>
{
    private readonly ConvVisionTower vision_tower;
    private readonly LdpV2Projector mm_projector;
    private readonly CausalLm lm;

    /// <summary>Creates the model (tower random until <see cref="LoadVisionTower"/>).</summary>
    public MiniVlm(MiniVlmConfig config) : base(nameof(MiniVlm))
    {
        config.Validate();
        Config = config;
        vision_tower = new ConvVisionTower();
        mm_projector = new LdpV2Projector(ConvVisionTower.Channels, config.DModel, config.PooledSide);
        lm = new CausalLm(config.Lm);
        RegisterComponents();
        foreach (var p in vision_tower.parameters()) p.requires_grad = false;
    }

    /// <summary>The architecture.</summary>
    public MiniVlmConfig Config { get; }
    /// <summary>The frozen tower.</summary>
    public ConvVisionTower VisionTower => vision_tower;
    /// <summary>The projector.</summary>
    public LdpV2Projector Projector => mm_projector;
    /// <summary>The language model.</summary>
    public CausalLm Lm => lm;

    /// <summary>Copies a (pre-trained) tower's weights into this model's frozen tower.</summary>
    public void LoadVisionTower(ConvVisionTower tower)
    {
        using var _ = no_grad();
        var src = tower.state_dict();
        foreach (var (name, p) in vision_tower.named_parameters()) p.copy_(src[name]);
    }

    /// <summary>The tower's scene grid (B, 32, 8, 8) of scenes (B, 1, 56, 56), under no-grad.</summary>
    public Tensor VisionGrid(Tensor scenes)
    {
        using var _ = no_grad();
        return vision_tower.SceneGrid(scenes);
    }

    /// <summary>Logits of scenes (B, 1, 56, 56) and ids (B, T) with one placeholder per row, no padding.</summary>
    public override Tensor forward(Tensor scenes)
        => throw new NotSupportedException("MiniVlm needs token ids: call Run(grid, ids, mask).");

    /// <summary>
    /// The forward from a scene grid (B, 32, 8, 8) (see <see cref="VisionGrid"/>; precomputable per item) and text ids
    /// (B, T) holding exactly one <see cref="TextTokenizer.ImageId"/> per row, with an optional (B, T) mask.
    /// <paramref name="attentionLayer0"/> returns the layer-0 attention probabilities.
    /// </summary>
    public VlmOutput Run(Tensor grid, Tensor ids, Tensor? mask = null, bool attentionLayer0 = false)
    {
        using var scope = NewDisposeScope();
        var z = mm_projector.call(grid);
        var (embeds, spliced, starts) = Splice(lm.EmbedTokens(ids), ids, mask, z);
        using var o = lm.Run(inputsEmbeds: embeds, attentionMask: spliced, attentionLayers: attentionLayer0 ? new[] { 0 } : null);
        var logits = o.Logits!.alias().MoveToOuterDisposeScope();
        var att = attentionLayer0 ? o.Attentions![0]!.alias().MoveToOuterDisposeScope() : null;
        return new VlmOutput(logits, z.MoveToOuterDisposeScope(), att, spliced.MoveToOuterDisposeScope(), starts, Config.VisionTokens);
    }

    /// <summary>The image placeholder's index per row; throws unless each row holds exactly one.</summary>
    public static long[] PlaceholderIndex(Tensor ids)
    {
        var host = ids.to_type(ScalarType.Int64).cpu().data<long>().ToArray();
        long b = ids.shape[0], t = ids.shape[1];
        var s = new long[b];
        for (long r = 0; r < b; r++)
        {
            int count = 0;
            for (long j = 0; j < t; j++) if (host[r * t + j] == TextTokenizer.ImageId) { count++; s[r] = j; }
            if (count != 1) throw new ArgumentException($"MiniVlm: row {r} holds {count} image placeholders ({TextTokenizer.ImageId}); exactly one is expected.");
        }
        return s;
    }

    /// <summary>
    /// Replaces each row's placeholder embedding by the N vision tokens: embeds (B, T, D), z (B, N, D) give
    /// (B, T − 1 + N, D), the spliced mask and the vision start per row (the placeholder's index).
    /// </summary>
    public static (Tensor Embeds, Tensor Mask, long[] Starts) Splice(Tensor embeds, Tensor ids, Tensor? mask, Tensor z)
    {
        using var scope = NewDisposeScope();
        long b = ids.shape[0], t = ids.shape[1], n = z.shape[1];
        var starts = PlaceholderIndex(ids);
        var m = mask ?? ones(b, t, ScalarType.Int64, ids.device);
        var vm = ones(b, n, m.dtype, m.device);
        Tensor e, sm;
        if (starts.All(s => s == starts[0]))
        {
            long s = starts[0];
            e = cat(new[] { embeds.narrow(1, 0, s), z.to_type(embeds.dtype), embeds.narrow(1, s + 1, t - s - 1) }, 1);
            sm = cat(new[] { m.narrow(1, 0, s), vm, m.narrow(1, s + 1, t - s - 1) }, 1);
        }
        else
        {
            var rows = new Tensor[b]; var masks = new Tensor[b];
            for (long r = 0; r < b; r++)
            {
                long s = starts[r];
                rows[r] = cat(new[] { embeds[r].narrow(0, 0, s), z[r].to_type(embeds.dtype), embeds[r].narrow(0, s + 1, t - s - 1) }, 0);
                masks[r] = cat(new[] { m[r].narrow(0, 0, s), vm[r], m[r].narrow(0, s + 1, t - s - 1) }, 0);
            }
            e = stack(rows); sm = stack(masks);
        }
        return (e.MoveToOuterDisposeScope(), sm.MoveToOuterDisposeScope(), starts);
    }

    /// <summary>Host-side splice of ids: the placeholder becomes N copies of <paramref name="fill"/> (spliced coordinates).</summary>
    public static long[] SpliceIds(IReadOnlyList<long> ids, int visionTokens, long fill = TextTokenizer.PadId)
    {
        int s = -1;
        for (int j = 0; j < ids.Count; j++) if (ids[j] == TextTokenizer.ImageId) { if (s >= 0) throw new ArgumentException("MiniVlm.SpliceIds: more than one image placeholder."); s = j; }
        if (s < 0) throw new ArgumentException("MiniVlm.SpliceIds: no image placeholder.");
        return ids.Take(s).Concat(Enumerable.Repeat(fill, visionTokens)).Concat(ids.Skip(s + 1)).ToArray();
    }
}

using MLNetExtensions.Core.Torch;
using MLNetExtensions.Transforms.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Slab;

/// <summary>
/// Configuration of a SLAB-Swin model (official <c>slab_swin.SlabSwinTransformer</c> arguments). Variants are the
/// static presets; <see cref="AttnType"/> and <see cref="Norm"/> select the paper's comparisons.
/// </summary>
public sealed record SlabSwinConfig
{
    /// <summary>Official model name.</summary>
    public string Name { get; init; } = "slab_swin_tiny_patch4_224";
    /// <summary>Input image side (square).</summary>
    public int ImgSize { get; init; } = 224;
    /// <summary>Patch side.</summary>
    public int PatchSize { get; init; } = 4;
    /// <summary>Input channels.</summary>
    public int InChans { get; init; } = 3;
    /// <summary>Classes (0: no head, the model returns pooled features).</summary>
    public int NumClasses { get; init; } = 1000;
    /// <summary>Stage-0 width; stage i has EmbedDim·2^i.</summary>
    public int EmbedDim { get; init; } = 96;
    /// <summary>Blocks per stage.</summary>
    public int[] Depths { get; init; } = [2, 2, 6, 2];
    /// <summary>Heads per stage.</summary>
    public int[] NumHeads { get; init; } = [3, 6, 12, 24];
    /// <summary>Window size for SLA ('L') stages (clamped to the feature map, so 56 means global); softmax ('S') stages use 7 (12 when this is &gt; 56).</summary>
    public int WindowSize { get; init; } = 56;
    /// <summary>MLP hidden ratio.</summary>
    public double MlpRatio { get; init; } = 4.0;
    /// <summary>Bias on qkv.</summary>
    public bool QkvBias { get; init; } = true;
    /// <summary>Dropout rate.</summary>
    public double DropRate { get; init; }
    /// <summary>Stochastic-depth rate (linearly increasing over blocks).</summary>
    public double DropPathRate { get; init; } = 0.2;
    /// <summary>Absolute position embedding after the patch embedding.</summary>
    public bool Ape { get; init; }
    /// <summary>Norm after the patch embedding.</summary>
    public bool PatchNorm { get; init; } = true;
    /// <summary>Attention per stage, one letter each: 'L' = SLA, 'S' = softmax window attention (official "LLSS").</summary>
    public string AttnType { get; init; } = "LLSS";
    /// <summary>SLA depthwise-conv kernel.</summary>
    public int KernelSize { get; init; } = 5;
    /// <summary>Token norm in every norm slot.</summary>
    public TokenNormKind Norm { get; init; } = TokenNormKind.PRepBN;
    /// <summary>PRepBN schedule (T = 60 000 in slab_swin).</summary>
    public PRepBNOptions PRepBN { get; init; } = PRepBNOptions.Vision with { TotalSteps = 60_000 };
    /// <summary>LayerNorm eps (1e-5 in slab_swin).</summary>
    public double LayerNormEps { get; init; } = 1e-5;
    /// <summary>BatchNorm eps.</summary>
    public double BnEps { get; init; } = 1e-5;

    /// <summary>The same model with every stage using <paramref name="kind"/> attention ('L' for SLA, 'S' for softmax windows).</summary>
    public SlabSwinConfig WithAttention(AttentionKind kind) =>
        this with { AttnType = new string(kind == AttentionKind.Sla ? 'L' : 'S', Depths.Length) };

    /// <summary>SLAB-Swin-T (cfgs/slab_swin_t.yaml): 96, 2-2-6-2, 3-6-12-24, LLSS, window 56, drop path 0.2.</summary>
    public static SlabSwinConfig SlabSwinTiny => new();
    /// <summary>SLAB-Swin-S (cfgs/slab_swin_s.yaml): 96, 2-2-18-2, drop path 0.3.</summary>
    public static SlabSwinConfig SlabSwinSmall => new() { Name = "slab_swin_small_patch4_224", Depths = [2, 2, 18, 2], DropPathRate = 0.3 };
    /// <summary>SLAB-Swin-B (cfgs/slab_swin_b.yaml): 128, 2-2-18-2, 4-8-16-32, drop path 0.5.</summary>
    public static SlabSwinConfig SlabSwinBase => new()
    { Name = "slab_swin_base_patch4_224", EmbedDim = 128, Depths = [2, 2, 18, 2], NumHeads = [4, 8, 16, 32], DropPathRate = 0.5 };
    /// <summary>Swin-T-PRepBN (cfgs/swin_t_prepbn.yaml, swin_transformer.py): softmax windows of 7, plain RepBN (no LN phase), drop path 0.1.</summary>
    public static SlabSwinConfig SwinTinyRepBN => new()
    { Name = "swin_tiny_repbn", WindowSize = 7, AttnType = "SSSS", Norm = TokenNormKind.RepBN, DropPathRate = 0.1 };
    /// <summary>Swin-T baseline: softmax windows of 7 and LayerNorm.</summary>
    public static SlabSwinConfig SwinTiny => SwinTinyRepBN with { Name = "swin_tiny_patch4_window7_224", Norm = TokenNormKind.LayerNorm, DropPathRate = 0.2 };

    /// <summary>A preset by its official name.</summary>
    public static SlabSwinConfig FromName(string name) => name switch
    {
        "slab_swin_tiny_patch4_224" => SlabSwinTiny,
        "slab_swin_small_patch4_224" => SlabSwinSmall,
        "slab_swin_base_patch4_224" => SlabSwinBase,
        "swin_tiny_repbn" => SwinTinyRepBN,
        "swin_tiny_patch4_window7_224" => SwinTiny,
        _ => throw new ArgumentException($"Unknown SLAB-Swin variant '{name}'. Known: slab_swin_tiny_patch4_224, slab_swin_small_patch4_224, slab_swin_base_patch4_224, swin_tiny_repbn, swin_tiny_patch4_window7_224."),
    };

    internal nn.Module<Tensor, Tensor> MakeNorm(long channels) => TokenNorms.Create(Norm, channels, LayerNormEps, BnEps, PRepBN);
}

/// <summary>Attention kind for the paper's SLA-versus-softmax comparison.</summary>
public enum AttentionKind
{
    /// <summary>Softmax attention (window attention in Swin, global in DeiT).</summary>
    Softmax,
    /// <summary>Simplified linear attention.</summary>
    Sla,
}

/// <summary>
/// SLAB-Swin image classifier (official <c>slab_swin.SlabSwinTransformer</c>): Swin stages whose 'L' stages run
/// <see cref="SimplifiedLinearAttention"/> over (clamped, hence usually global) windows and whose 'S' stages run
/// shifted-window softmax attention; token norms selectable (LN | BN | RepBN | PRepBN). State-dict keys equal the
/// official ones (<c>patch_embed.*</c>, <c>layers.i.blocks.j.*</c>, <c>layers.i.downsample.*</c>, <c>norm.*</c>, <c>head.*</c>).
/// Input (B, InChans, ImgSize, ImgSize) → logits (B, NumClasses).
/// </summary>
public sealed class SlabSwinTransformer : nn.Module<Tensor, Tensor>
{
    private readonly SwinPatchEmbed patch_embed;
    private readonly Parameter? absolute_pos_embed;
    private readonly Dropout pos_drop;
    private readonly ModuleList<SwinBasicLayer> layers;
    private nn.Module<Tensor, Tensor> norm;
    private readonly nn.Module<Tensor, Tensor> head;

    /// <summary>Builds the model from <paramref name="config"/> (weights initialised as the official code).</summary>
    public SlabSwinTransformer(SlabSwinConfig config) : base(nameof(SlabSwinTransformer))
    {
        Config = config ?? throw new ArgumentNullException(nameof(config));
        int nStages = config.Depths.Length;
        if (nStages == 0 || config.NumHeads.Length != nStages)
            throw new ArgumentException($"SlabSwinConfig: Depths ({config.Depths.Length}) and NumHeads ({config.NumHeads.Length}) must have the same non-zero length.");
        if (config.AttnType.Length < nStages || config.AttnType.Take(nStages).Any(ch => ch != 'L' && ch != 'S'))
            throw new ArgumentException($"SlabSwinConfig: AttnType must give 'L' (SLA) or 'S' (softmax) for each of the {nStages} stages, got \"{config.AttnType}\".");
        if (config.ImgSize % config.PatchSize != 0)
            throw new ArgumentException($"SlabSwinConfig: ImgSize ({config.ImgSize}) must be a multiple of PatchSize ({config.PatchSize}).");
        long res = config.ImgSize / config.PatchSize;
        if (nStages > 1 && res % (1L << (nStages - 1)) != 0)
            throw new ArgumentException($"SlabSwinConfig: the patch grid ({res}×{res}) must be divisible by 2^{nStages - 1} for {nStages - 1} patch mergings, i.e. ImgSize must be a multiple of {config.PatchSize << (nStages - 1)}.");

        patch_embed = new SwinPatchEmbed(config);
        if (config.Ape)
        {
            absolute_pos_embed = nn.Parameter(torch.zeros(1, res * res, config.EmbedDim));
            using (torch.no_grad()) LayerInit.TruncNormal_(absolute_pos_embed, std: 0.02);
        }
        pos_drop = nn.Dropout(config.DropRate);

        int total = config.Depths.Sum();
        var dpr = Enumerable.Range(0, total).Select(i => total == 1 ? 0.0 : config.DropPathRate * i / (total - 1)).ToArray();
        layers = new ModuleList<SwinBasicLayer>();
        int offset = 0;
        for (int i = 0; i < nStages; i++)
        {
            long dim = (long)config.EmbedDim << i, r = res >> i;
            layers.Add(new SwinBasicLayer(config, i, dim, r, dpr.Skip(offset).Take(config.Depths[i]).ToArray(), downsample: i < nStages - 1));
            offset += config.Depths[i];
        }
        NumFeatures = (long)config.EmbedDim << (nStages - 1);
        norm = config.MakeNorm(NumFeatures);
        head = config.NumClasses > 0 ? nn.Linear(NumFeatures, config.NumClasses) : nn.Identity();
        RegisterComponents();
        SlabInit.TruncNormalLinears(this);
    }

    /// <summary>The configuration.</summary>
    public SlabSwinConfig Config { get; }

    /// <summary>Width of the pooled features.</summary>
    public long NumFeatures { get; }

    /// <summary>True after <see cref="SwitchToDeploy"/>: every norm is folded away.</summary>
    public bool IsDeployed { get; private set; }

    /// <summary>Pooled features (B, NumFeatures).</summary>
    public Tensor ForwardFeatures(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var t = patch_embed.call(x);
        if (absolute_pos_embed is not null) t = t.Plus(absolute_pos_embed);
        t = pos_drop.call(t);
        foreach (var layer in layers) t = layer.call(t);
        t = norm.call(t);
        return t.mean(new long[] { 1 }).MoveToOuterDisposeScope();
    }

    /// <summary>Logits (B, NumClasses) for images (B, InChans, ImgSize, ImgSize).</summary>
    public override Tensor forward(Tensor x)
    {
        using var f = ForwardFeatures(x);
        return head.call(f);
    }

    /// <summary>Advances the PRepBN schedule of every norm by one training step (call after each optimizer step).</summary>
    public void StepNormSchedule() => PRepBN.StepAll(this);

    /// <summary>
    /// Re-parameterises the model for inference in place: every BatchNorm-family norm (BN, RepBN, PRepBN in its eval
    /// form) is folded into the adjacent layer and removed — patch-embed norm into the patch conv, block norm1 into
    /// <c>attn.qkv</c>, norm2 into <c>mlp.fc1</c>, PatchMerging norm into <c>reduction</c> (which gains a bias), and the
    /// final norm as <paramref name="finalNorm"/> says. Outputs equal the eval-mode outputs of the unfolded model up
    /// to float rounding. Throws for LayerNorm models.
    /// </summary>
    /// <param name="finalNorm">
    /// <see cref="FinalNormFold.IntoHead"/> (default; always exact: average pooling commutes with a per-channel affine) or
    /// <see cref="FinalNormFold.IntoLastStage"/> (official <c>SwinTransformer.merge_bn</c>; needed without a head, e.g. as
    /// a backbone; requires every scale a_c ≠ 0).
    /// </param>
    /// <returns>This model, now in eval mode with the folded state-dict layout.</returns>
    public SlabSwinTransformer SwitchToDeploy(FinalNormFold finalNorm = FinalNormFold.IntoHead)
    {
        if (IsDeployed) return this;
        SlabInit.CheckFoldable(Config.Norm);
        if (finalNorm == FinalNormFold.IntoHead && head is not Linear)
            throw new InvalidOperationException("SwitchToDeploy: this model has no head (NumClasses = 0); fold the final norm with FinalNormFold.IntoLastStage.");
        var (a, b) = NormFolding.AffineOf(norm, "norm");
        using (a) using (b)
        {
            if (finalNorm == FinalNormFold.IntoLastStage && a.abs().min().item<float>() == 0f)
                throw new InvalidOperationException("SwitchToDeploy: the final norm has a zero scale, so it cannot be pushed into the last stage; use FinalNormFold.IntoHead.");
            patch_embed.FoldNorm();
            foreach (var layer in layers) layer.FoldNorms();
            if (finalNorm == FinalNormFold.IntoHead)
                NormFolding.IntoFollowingLinear((Linear)head, a, b); // logits = W·(a⊙mean(x) + b) + c
            else
                PushFinalNormIntoLastStage(a, b);
        }
        norm = SlabInit.ReplaceWithIdentity(this, "norm");
        IsDeployed = true;
        eval();
        return this;
    }

    // Official merge_bn: make the last stage carry a⊙x in its residual stream (scale what writes into it, unscale what
    // reads from it), then add b at the end, so the stream leaving the stage is already a⊙x + b = norm(x).
    private void PushFinalNormIntoLastStage(Tensor a, Tensor b)
    {
        var last = layers[layers.Count - 1];
        if (layers.Count > 1) NormFolding.ScaleOutputs(layers[layers.Count - 2].Downsample!.Reduction, a);
        else
        {
            patch_embed.ScaleOutputs(a);
            if (absolute_pos_embed is not null) using (torch.no_grad()) absolute_pos_embed.mul_(a);
        }
        foreach (var blk in last.Blocks)
        {
            NormFolding.UnscaleInputs(blk.Qkv, a);
            NormFolding.ScaleOutputs(blk.AttnProj, a);
            NormFolding.UnscaleInputs(blk.Mlp.Fc1, a);
            NormFolding.ScaleOutputs(blk.Mlp.Fc2, a);
        }
        using (torch.no_grad()) last.Blocks[^1].Mlp.Fc2.bias!.PlusInPlace(b);
    }
}

/// <summary>Where <see cref="SlabSwinTransformer.SwitchToDeploy"/> folds the final norm.</summary>
public enum FinalNormFold
{
    /// <summary>Into the classifier head (exact for any scale).</summary>
    IntoHead,
    /// <summary>Back into the last stage's residual stream (official Swin <c>merge_bn</c>; works without a head).</summary>
    IntoLastStage,
}

/// <summary>Swin patch embedding: k=s=patch conv, flatten to tokens, optional norm. Keys <c>proj.*</c>, <c>norm.*</c>.</summary>
public sealed class SwinPatchEmbed : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d proj;
    private nn.Module<Tensor, Tensor>? norm;
    private readonly int imgSize, inChans;

    internal SwinPatchEmbed(SlabSwinConfig c) : base(nameof(SwinPatchEmbed))
    {
        imgSize = c.ImgSize; inChans = c.InChans;
        proj = nn.Conv2d(c.InChans, c.EmbedDim, c.PatchSize, stride: c.PatchSize);
        norm = c.PatchNorm ? c.MakeNorm(c.EmbedDim) : null;
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        if (x.dim() != 4 || x.shape[1] != inChans || x.shape[2] != imgSize || x.shape[3] != imgSize)
            throw new ArgumentException($"SLAB-Swin: expected images of shape (B, {inChans}, {imgSize}, {imgSize}), got ({string.Join(", ", x.shape)}).");
        using var scope = torch.NewDisposeScope();
        var t = proj.call(x).flatten(2).transpose(1, 2);
        if (norm is not null) t = norm.call(t);
        return t.MoveToOuterDisposeScope();
    }

    internal void ScaleOutputs(Tensor a) => NormFolding.ScaleOutputs(proj, a);

    internal void FoldNorm()
    {
        if (norm is null) return;
        var (a, b) = NormFolding.AffineOf(norm, "patch_embed.norm");
        using (a) using (b) NormFolding.IntoPrecedingConv(proj, a, b);
        SlabInit.Unregister(this, "norm");
        norm = null;
    }
}

/// <summary>One Swin stage: blocks then optional PatchMerging. Keys <c>blocks.j.*</c>, <c>downsample.*</c>.</summary>
public sealed class SwinBasicLayer : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<SwinBlock> blocks;
    private readonly SwinPatchMerging? downsample;

    internal SwinBasicLayer(SlabSwinConfig c, int stage, long dim, long res, double[] dpr, bool downsample) : base(nameof(SwinBasicLayer))
    {
        char attn = c.AttnType[stage];
        blocks = new ModuleList<SwinBlock>();
        for (int i = 0; i < c.Depths[stage]; i++)
        {
            int window = attn == 'L' ? c.WindowSize : (c.WindowSize <= 56 ? 7 : 12);
            int shift = i % 2 == 0 ? 0 : window / 2;
            blocks.Add(new SwinBlock(c, dim, res, c.NumHeads[stage], window, shift, attn, dpr[i]));
        }
        this.downsample = downsample ? new SwinPatchMerging(c, dim, res) : null;
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var t = x;
        foreach (var b in blocks) t = b.call(t);
        if (downsample is not null) t = downsample.call(t);
        return (ReferenceEquals(t, x) ? x.alias() : t).MoveToOuterDisposeScope();
    }

    internal IReadOnlyList<SwinBlock> Blocks => blocks.ToList();
    internal SwinPatchMerging? Downsample => downsample;

    internal void FoldNorms()
    {
        foreach (var b in blocks) b.FoldNorms();
        downsample?.FoldNorm();
    }
}

/// <summary>
/// Swin block with SLA or (shifted) window softmax attention: x + attn(norm1(x)), then x + mlp(norm2(x)).
/// Keys <c>norm1.*</c>, <c>attn.*</c>, <c>norm2.*</c>, <c>mlp.*</c>, and <c>attn_mask</c> for shifted blocks.
/// </summary>
public sealed class SwinBlock : nn.Module<Tensor, Tensor>
{
    private nn.Module<Tensor, Tensor> norm1;
    private readonly nn.Module attn;
    private readonly nn.Module<Tensor, Tensor> drop_path;
    private nn.Module<Tensor, Tensor> norm2;
    private readonly Mlp mlp;
    private readonly Tensor? attn_mask;
    private readonly long dim, res, window, shift;

    internal SwinBlock(SlabSwinConfig c, long dim, long res, int heads, int windowSize, int shiftSize, char attnType, double dropPath)
        : base(nameof(SwinBlock))
    {
        this.dim = dim; this.res = res;
        long w = windowSize, s = shiftSize;
        if (res <= w) { s = 0; w = res; } // window larger than the map: no partition, no shift (official)
        if (res % w != 0)
            throw new ArgumentException($"SLAB-Swin: feature map {res}×{res} is not divisible by window {w}; choose ImgSize/PatchSize so every stage divides its window.");
        window = w; shift = s;
        norm1 = c.MakeNorm(dim);
        attn = attnType == 'L'
            ? new SimplifiedLinearAttention(dim, heads, w, w, c.QkvBias, c.KernelSize, c.DropRate)
            : new WindowAttention(dim, w, w, heads, c.QkvBias, 0.0, c.DropRate);
        drop_path = dropPath > 0 ? new DropPath(dropPath) : nn.Identity();
        norm2 = c.MakeNorm(dim);
        mlp = new Mlp(dim, (long)(dim * c.MlpRatio), drop: c.DropRate);
        attn_mask = s > 0 ? ShiftMask(res, w, s) : null;
        RegisterComponents();
    }

    /// <summary>The attention module (SLA or window softmax).</summary>
    public nn.Module Attention => attn;

    internal Linear Qkv => attn switch { SimplifiedLinearAttention s => s.Qkv, WindowAttention w => w.Qkv, _ => throw new InvalidOperationException() };
    internal Linear AttnProj => attn switch { SimplifiedLinearAttention s => s.Proj, WindowAttention w => w.Proj, _ => throw new InvalidOperationException() };
    internal Mlp Mlp => mlp;

    // Region labels of the shifted map, partitioned into windows: tokens from different regions get −100 (official).
    private static Tensor ShiftMask(long res, long w, long s)
    {
        using var scope = torch.NewDisposeScope();
        var img = torch.zeros(1, res, res, 1);
        long[] bounds = [0, res - w, res - s, res];
        int cnt = 0;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++, cnt++)
                img[TensorIndex.Colon, TensorIndex.Slice(bounds[i], bounds[i + 1]), TensorIndex.Slice(bounds[j], bounds[j + 1]), TensorIndex.Colon].FillInPlace(cnt);
        var mw = SwinWindows.Partition(img, w).view(-1, w * w);
        var m = mw.unsqueeze(1) - mw.unsqueeze(2);
        m = m.MaskedFill(m.NotEqualTo(0), -100.0).MaskedFill(m.EqualTo(0), 0.0);
        return m.MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        TokenShape.Check(x, dim, nameof(SwinBlock));
        if (x.shape[1] != res * res) throw new ArgumentException($"SwinBlock: expected {res}×{res} = {res * res} tokens, got {x.shape[1]}.");
        using var scope = torch.NewDisposeScope();
        long b = x.shape[0];
        var t = norm1.call(x).view(b, res, res, dim);
        if (shift > 0) t = t.roll(new[] { -shift, -shift }, new long[] { 1, 2 });
        var win = SwinWindows.Partition(t, window).view(-1, window * window, dim);
        var o = attn switch
        {
            SimplifiedLinearAttention sla => sla.call(win),
            WindowAttention wa => wa.call(win, attn_mask),
            _ => throw new InvalidOperationException("unknown attention"),
        };
        t = SwinWindows.Reverse(o.view(-1, window, window, dim), window, res, res);
        if (shift > 0) t = t.roll(new[] { shift, shift }, new long[] { 1, 2 });
        var y = x.Plus(drop_path.call(t.reshape(b, res * res, dim)));
        y = y.Plus(drop_path.call(mlp.call(norm2.call(y))));
        return y.MoveToOuterDisposeScope();
    }

    internal void FoldNorms()
    {
        NormFolding.IntoFollowingLinears(norm1, "norm1", Qkv);
        NormFolding.IntoFollowingLinears(norm2, "norm2", mlp.Fc1);
        norm1 = SlabInit.ReplaceWithIdentity(this, "norm1");
        norm2 = SlabInit.ReplaceWithIdentity(this, "norm2");
    }
}

/// <summary>Swin PatchMerging: 2×2 neighbours concatenated (4C), norm, Linear 4C→2C without bias. Keys <c>reduction.*</c>, <c>norm.*</c>.</summary>
public sealed class SwinPatchMerging : nn.Module<Tensor, Tensor>
{
    private readonly Linear reduction;
    private nn.Module<Tensor, Tensor> norm;
    private readonly long dim, res;

    internal SwinPatchMerging(SlabSwinConfig c, long dim, long res) : base(nameof(SwinPatchMerging))
    {
        if (res % 2 != 0) throw new ArgumentException($"SwinPatchMerging: feature map {res}×{res} must have even sides.");
        this.dim = dim; this.res = res;
        reduction = nn.Linear(4 * dim, 2 * dim, hasBias: false);
        norm = c.MakeNorm(4 * dim);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        long b = x.shape[0];
        var t = x.view(b, res, res, dim);
        var even = TensorIndex.Slice(0, null, 2);
        var odd = TensorIndex.Slice(1, null, 2);
        var all = TensorIndex.Colon;
        var cat = torch.cat(new[] { t[all, even, even, all], t[all, odd, even, all], t[all, even, odd, all], t[all, odd, odd, all] }, -1)
            .view(b, -1, 4 * dim);
        return reduction.call(norm.call(cat)).MoveToOuterDisposeScope();
    }

    internal Linear Reduction => reduction;

    internal void FoldNorm()
    {
        NormFolding.IntoFollowingLinears(norm, "downsample.norm", reduction);
        norm = SlabInit.ReplaceWithIdentity(this, "norm");
    }
}

/// <summary>Swin window partition/reverse on (B, H, W, C) maps.</summary>
internal static class SwinWindows
{
    public static Tensor Partition(Tensor x, long w)
    {
        long b = x.shape[0], h = x.shape[1], wd = x.shape[2], c = x.shape[3];
        return x.view(b, h / w, w, wd / w, w, c).permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, w, w, c);
    }

    public static Tensor Reverse(Tensor windows, long w, long h, long wd)
    {
        long b = windows.shape[0] / (h * wd / w / w);
        return windows.view(b, h / w, wd / w, w, w, -1).permute(0, 1, 3, 2, 4, 5).contiguous().view(b, h, wd, -1);
    }
}

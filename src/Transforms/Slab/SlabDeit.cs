using MLNetExtensions.Core.Torch;
using MLNetExtensions.Transforms.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Slab;

/// <summary>Configuration of a SLAB-DeiT model (official <c>slab_deit.VisionTransformer</c> builders).</summary>
public sealed record SlabDeitConfig
{
    /// <summary>Official model name.</summary>
    public string Name { get; init; } = "deit_tiny_patch16_224_linear_repbn";
    /// <summary>Input image side (square).</summary>
    public int ImgSize { get; init; } = 224;
    /// <summary>Patch side.</summary>
    public int PatchSize { get; init; } = 16;
    /// <summary>Input channels.</summary>
    public int InChans { get; init; } = 3;
    /// <summary>Classes (0: no head).</summary>
    public int NumClasses { get; init; } = 1000;
    /// <summary>Width.</summary>
    public int EmbedDim { get; init; } = 192;
    /// <summary>Blocks.</summary>
    public int Depth { get; init; } = 12;
    /// <summary>Heads.</summary>
    public int NumHeads { get; init; } = 3;
    /// <summary>MLP hidden ratio.</summary>
    public double MlpRatio { get; init; } = 4.0;
    /// <summary>Bias on qkv.</summary>
    public bool QkvBias { get; init; } = true;
    /// <summary>Dropout rate.</summary>
    public double DropRate { get; init; }
    /// <summary>Stochastic-depth rate.</summary>
    public double DropPathRate { get; init; }
    /// <summary>Attention in every block (official SLAB-DeiT: SLA).</summary>
    public AttentionKind Attention { get; init; } = AttentionKind.Sla;
    /// <summary>SLA depthwise-conv kernel (5).</summary>
    public int KernelSize { get; init; } = 5;
    /// <summary>Token norm in every norm slot.</summary>
    public TokenNormKind Norm { get; init; } = TokenNormKind.PRepBN;
    /// <summary>PRepBN schedule (T = 60 000 in slab_deit).</summary>
    public PRepBNOptions PRepBN { get; init; } = PRepBNOptions.Vision with { TotalSteps = 60_000 };
    /// <summary>LayerNorm eps (1e-6 in slab_deit).</summary>
    public double LayerNormEps { get; init; } = 1e-6;
    /// <summary>BatchNorm eps.</summary>
    public double BnEps { get; init; } = 1e-5;

    /// <summary>SLAB-DeiT-T (<c>deit_tiny_patch16_224_linear_repbn</c>): 192 wide, 12 blocks, 3 heads.</summary>
    public static SlabDeitConfig SlabDeitTiny => new();
    /// <summary>SLAB-DeiT-S (<c>deit_small_patch16_224_linear_repbn</c>): 384 wide, 12 blocks, 6 heads.</summary>
    public static SlabDeitConfig SlabDeitSmall => new() { Name = "deit_small_patch16_224_linear_repbn", EmbedDim = 384, NumHeads = 6 };

    /// <summary>A preset by its official name.</summary>
    public static SlabDeitConfig FromName(string name) => name switch
    {
        "deit_tiny_patch16_224_linear_repbn" => SlabDeitTiny,
        "deit_small_patch16_224_linear_repbn" => SlabDeitSmall,
        _ => throw new ArgumentException($"Unknown SLAB-DeiT variant '{name}'. Known: deit_tiny_patch16_224_linear_repbn, deit_small_patch16_224_linear_repbn."),
    };

    internal nn.Module<Tensor, Tensor> MakeNorm(long channels) => TokenNorms.Create(Norm, channels, LayerNormEps, BnEps, PRepBN);
}

/// <summary>
/// SLAB-DeiT image classifier (official <c>slab_deit.VisionTransformer</c>): patch conv, learned position
/// embedding, pre-norm blocks with SLA (or softmax attention) and token norms, final norm, mean pooling over
/// tokens (no class token in forward), head. Keys equal the official ones, including the unused <c>cls_token</c>.
/// </summary>
/// <remarks>
/// Differences from the official file: the SLA positional term and DWC grid follow the patch grid
/// (ImgSize/PatchSize)² instead of the hard-coded 14×14 (identical at 224/16); the softmax option keeps mean
/// pooling rather than DeiT's class token.
/// </remarks>
public sealed class SlabDeit : nn.Module<Tensor, Tensor>
{
    private readonly Parameter cls_token;
    private readonly Parameter pos_embed;
    private readonly DeitPatchEmbed patch_embed;
    private readonly Dropout pos_drop;
    private readonly ModuleList<DeitBlock> blocks;
    private nn.Module<Tensor, Tensor> norm;
    private readonly nn.Module<Tensor, Tensor> head;

    /// <summary>Builds the model from <paramref name="config"/>.</summary>
    public SlabDeit(SlabDeitConfig config) : base(nameof(SlabDeit))
    {
        Config = config ?? throw new ArgumentNullException(nameof(config));
        if (config.ImgSize % config.PatchSize != 0)
            throw new ArgumentException($"SlabDeitConfig: ImgSize ({config.ImgSize}) must be a multiple of PatchSize ({config.PatchSize}).");
        if (config.Depth <= 0) throw new ArgumentException("SlabDeitConfig: Depth must be positive.");
        long grid = config.ImgSize / config.PatchSize;
        cls_token = nn.Parameter(torch.zeros(1, 1, config.EmbedDim));
        pos_embed = nn.Parameter(torch.zeros(1, grid * grid, config.EmbedDim));
        patch_embed = new DeitPatchEmbed(config);
        pos_drop = nn.Dropout(config.DropRate);
        blocks = new ModuleList<DeitBlock>();
        for (int i = 0; i < config.Depth; i++)
            blocks.Add(new DeitBlock(config, grid, config.Depth == 1 ? 0 : config.DropPathRate * i / (config.Depth - 1)));
        norm = config.MakeNorm(config.EmbedDim);
        head = config.NumClasses > 0 ? nn.Linear(config.EmbedDim, config.NumClasses) : nn.Identity();
        RegisterComponents();
        SlabInit.TruncNormalLinears(this);
        using (torch.no_grad())
        {
            LayerInit.TruncNormal_(pos_embed, std: 0.02);
            LayerInit.TruncNormal_(cls_token, std: 0.02);
        }
    }

    /// <summary>The configuration.</summary>
    public SlabDeitConfig Config { get; }

    /// <summary>True after <see cref="SwitchToDeploy"/>.</summary>
    public bool IsDeployed { get; private set; }

    /// <summary>Mean-pooled features (B, EmbedDim).</summary>
    public Tensor ForwardFeatures(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var t = pos_drop.call(patch_embed.call(x).Plus(pos_embed));
        foreach (var b in blocks) t = b.call(t);
        return norm.call(t).mean(new long[] { 1 }).MoveToOuterDisposeScope();
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
    /// Re-parameterises for inference in place: block norm1 → <c>attn.qkv</c>, norm2 → <c>mlp.fc1</c>, final norm →
    /// <c>head</c>; the norms leave the model and the state dict. Throws for LayerNorm models or without a head.
    /// </summary>
    public SlabDeit SwitchToDeploy()
    {
        if (IsDeployed) return this;
        SlabInit.CheckFoldable(Config.Norm);
        if (head is not Linear headLinear)
            throw new InvalidOperationException("SwitchToDeploy: the final norm folds into the classifier head; this model has no head (NumClasses = 0).");
        foreach (var b in blocks) b.FoldNorms();
        NormFolding.IntoFollowingLinears(norm, "norm", headLinear);
        norm = SlabInit.ReplaceWithIdentity(this, "norm");
        IsDeployed = true;
        eval();
        return this;
    }
}

/// <summary>DeiT patch embedding (conv k=s=patch, flatten; no norm in SLAB-DeiT). Keys <c>proj.*</c>.</summary>
public sealed class DeitPatchEmbed : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d proj;
    private readonly int imgSize, inChans;

    internal DeitPatchEmbed(SlabDeitConfig c) : base(nameof(DeitPatchEmbed))
    {
        imgSize = c.ImgSize; inChans = c.InChans;
        proj = nn.Conv2d(c.InChans, c.EmbedDim, c.PatchSize, stride: c.PatchSize);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        if (x.dim() != 4 || x.shape[1] != inChans || x.shape[2] != imgSize || x.shape[3] != imgSize)
            throw new ArgumentException($"SLAB-DeiT: expected images of shape (B, {inChans}, {imgSize}, {imgSize}), got ({string.Join(", ", x.shape)}).");
        using var y = proj.call(x);
        using var f = y.flatten(2);
        return f.transpose(1, 2);
    }
}

/// <summary>Pre-norm DeiT block: x + attn(norm1(x)), x + mlp(norm2(x)). Keys <c>norm1.*</c>, <c>attn.*</c>, <c>norm2.*</c>, <c>mlp.*</c>.</summary>
public sealed class DeitBlock : nn.Module<Tensor, Tensor>
{
    private nn.Module<Tensor, Tensor> norm1;
    private readonly nn.Module<Tensor, Tensor> attn;
    private readonly nn.Module<Tensor, Tensor> drop_path;
    private nn.Module<Tensor, Tensor> norm2;
    private readonly Mlp mlp;

    internal DeitBlock(SlabDeitConfig c, long grid, double dropPath) : base(nameof(DeitBlock))
    {
        norm1 = c.MakeNorm(c.EmbedDim);
        attn = c.Attention == AttentionKind.Sla
            ? new SimplifiedLinearAttention(c.EmbedDim, c.NumHeads, grid, grid, c.QkvBias, c.KernelSize, c.DropRate)
            : new SoftmaxAttention(c.EmbedDim, c.NumHeads, c.QkvBias, 0.0, c.DropRate);
        drop_path = dropPath > 0 ? new DropPath(dropPath) : nn.Identity();
        norm2 = c.MakeNorm(c.EmbedDim);
        mlp = new Mlp(c.EmbedDim, (long)(c.EmbedDim * c.MlpRatio), drop: c.DropRate);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var y = x.Plus(drop_path.call(attn.call(norm1.call(x))));
        y = y.Plus(drop_path.call(mlp.call(norm2.call(y))));
        return y.MoveToOuterDisposeScope();
    }

    internal void FoldNorms()
    {
        var qkv = attn switch { SimplifiedLinearAttention s => s.Qkv, SoftmaxAttention a => a.Qkv, _ => throw new InvalidOperationException() };
        NormFolding.IntoFollowingLinears(norm1, "norm1", qkv);
        NormFolding.IntoFollowingLinears(norm2, "norm2", mlp.Fc1);
        norm1 = SlabInit.ReplaceWithIdentity(this, "norm1");
        norm2 = SlabInit.ReplaceWithIdentity(this, "norm2");
    }
}

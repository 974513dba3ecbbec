using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.TinyViM;

/// <summary>
/// TinyViM image classifier (official <c>TinyViM</c> in xwmaxwma/TinyViM <c>model/tinyvim.py</c>): stem ÷4, four
/// stages of LocalBlocks (conv) with a TViMBlock (Laplace mixer: frequency-split 2-D selective scan on the 1/32 grid)
/// at the end of each stage plus one in the middle of stage 3, stride-2 Embeddings between stages, BatchNorm, global
/// average pool, linear head(s). State-dict keys equal the official ones (<c>patch_embed.*</c>, <c>network.{i}.*</c>,
/// <c>norm.*</c>, <c>head.*</c>, <c>dist_head.*</c>), so official checkpoints' <c>model</c> entry loads strictly with
/// PyBridge's <c>load_py</c>.
/// </summary>
/// <remarks>
/// Output: the official forward returns the tuple (head, dist_head) in training mode and their mean in eval mode when
/// distillation is on. This port's <see cref="forward"/> always returns a single logits tensor — the mean of both heads
/// with distillation, else <c>head</c> — in either mode; <see cref="ForwardHeads"/> returns both heads for a
/// distillation loss. Input: (B, <see cref="TinyViMConfig.InChannels"/>, H, W) with H and W multiples of
/// <see cref="TinyViMConfig.InputMultiple"/> (32).
/// </remarks>
public sealed class TinyViMModel : nn.Module<Tensor, Tensor>, IDeployable
{
    private readonly Stem patch_embed;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> network;
    private readonly SafeBatchNorm2d norm;
    private readonly nn.Module<Tensor, Tensor> head;
    private readonly nn.Module<Tensor, Tensor>? dist_head;

    private readonly List<SS2D> _mixers = new();
    private SelectiveScanMode _scanMode = SelectiveScanMode.Auto;

    /// <summary>
    /// Builds the network with the official from-scratch initialisation (convs and linears truncated-normal std 0.02
    /// with zero biases, BatchNorm/LayerNorm identity, layer scale 1, SSM parameters as in <see cref="SS2D"/>). Draws
    /// from TorchSharp's global generator: call <c>torch.manual_seed</c> first for reproducible weights.
    /// </summary>
    /// <param name="config">Architecture (e.g. <see cref="TinyViMConfig.S"/>).</param>
    /// <param name="numClasses">Classes of the head(s); 0 gives identity heads (forward returns pooled features).</param>
    /// <param name="distillation">Whether to add the DeiT-style <c>dist_head</c> (official default true).</param>
    public TinyViMModel(TinyViMConfig config, int numClasses, bool distillation = true) : base("TinyViM")
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        if (numClasses < 0) throw new ArgumentOutOfRangeException(nameof(numClasses), numClasses, "numClasses must be ≥ 0.");
        Config = config;
        NumClasses = numClasses;
        Distillation = distillation;
        var dims = config.EmbedDims;

        patch_embed = new Stem(config.InChannels, dims[0]);

        var totalBlocks = config.Layers.Sum();
        var blockIndex = 0;
        var entries = new List<nn.Module<Tensor, Tensor>>();
        for (var i = 0; i < config.Layers.Length; i++)
        {
            var blocks = new List<nn.Module<Tensor, Tensor>>();
            for (var j = 0; j < config.Layers[i]; j++, blockIndex++)
            {
                var dpr = totalBlocks > 1 ? config.DropPathRate * blockIndex / (totalBlocks - 1) : 0.0;
                blocks.Add(IsMambaBlock(config, i, j) ? MakeMambaBlock(config, i, dpr) : MakeLocalBlock(config, i, dpr));
            }
            entries.Add(nn.Sequential(blocks.ToArray()));
            if (config.HasDownsample(i))
                entries.Add(new Embedding(dims[i], dims[i + 1], config.DownPatchSize, config.DownStride, config.DownPad));
        }
        network = nn.ModuleList(entries.ToArray());

        norm = new SafeBatchNorm2d(dims[^1]);
        head = numClasses > 0 ? nn.Linear(dims[^1], numClasses) : nn.Identity();
        dist_head = distillation ? (numClasses > 0 ? nn.Linear(dims[^1], numClasses) : nn.Identity()) : null;
        RegisterComponents();
        InitWeights();
    }

    /// <summary>The configuration the model was built from.</summary>
    public TinyViMConfig Config { get; }

    /// <summary>Number of classes of the head(s) (0 = identity heads).</summary>
    public int NumClasses { get; }

    /// <summary>Whether the model has the distillation head <c>dist_head</c>.</summary>
    public bool Distillation { get; }

    /// <summary>Width of the pooled feature vector returned by <see cref="ForwardFeatures"/> (last stage width).</summary>
    public int NumFeatures => Config.EmbedDims[^1];

    /// <summary>Whether <see cref="SwitchToDeploy"/> has been applied.</summary>
    public bool IsDeployed { get; private set; }

    /// <summary>The Laplace mixers of all TViMBlocks, in network order.</summary>
    public IReadOnlyList<SS2D> Mixers => _mixers;

    /// <summary>Stem (key <c>patch_embed</c>).</summary>
    public Stem PatchEmbed => patch_embed;

    /// <summary>The 7 stage/down-sampler entries (key <c>network</c>): stages at even indices, Embeddings at odd ones.</summary>
    public ModuleList<nn.Module<Tensor, Tensor>> Network => network;

    /// <summary>Final BatchNorm (key <c>norm</c>).</summary>
    public SafeBatchNorm2d Norm => norm;

    /// <summary>Classification head (key <c>head</c>).</summary>
    public nn.Module<Tensor, Tensor> Head => head;

    /// <summary>Distillation head (key <c>dist_head</c>), or null without distillation.</summary>
    public nn.Module<Tensor, Tensor>? DistHead => dist_head;

    /// <summary>Scan implementation used by every mixer (default <see cref="SelectiveScanMode.Auto"/>).</summary>
    public SelectiveScanMode ScanMode
    {
        get => _scanMode;
        set
        {
            _scanMode = value;
            foreach (var m in _mixers) m.ScanMode = value;
        }
    }

    /// <summary>Logits (B, classes): mean of <c>head</c> and <c>dist_head</c> with distillation, else <c>head</c>.</summary>
    public override Tensor forward(Tensor x)
    {
        using var f = ForwardFeatures(x);
        if (dist_head is null) return head.call(f);
        using var a = head.call(f);
        using var b = dist_head.call(f);
        using var s = a.Plus(b);
        return s.Over(2);
    }

    /// <summary>Both heads' logits for a distillation loss (official training-mode output); DistHead is null without distillation.</summary>
    public (Tensor Head, Tensor? DistHead) ForwardHeads(Tensor x)
    {
        using var f = ForwardFeatures(x);
        return (head.call(f), dist_head?.call(f));
    }

    /// <summary>Pooled features (B, <see cref="NumFeatures"/>): stem, stages, final BatchNorm, mean over H·W.</summary>
    /// <exception cref="ArgumentException">Input not (B, InChannels, H, W) or H/W not multiples of 32.</exception>
    public Tensor ForwardFeatures(Tensor x)
    {
        CheckInput(x);
        using var scope = torch.NewDisposeScope();
        var y = patch_embed.call(x);
        foreach (var entry in network) y = entry.call(y);
        y = norm.call(y);
        return y.flatten(2).mean([-1]).MoveToOuterDisposeScope();
    }

    /// <summary>Throws a clear <see cref="ArgumentException"/> unless <paramref name="x"/> is a valid input batch.</summary>
    public void CheckInput(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var c = Config.InChannels;
        if (x.dim() != 4)
            throw new ArgumentException($"TinyViM expects a 4-D NCHW batch (batch, {c}, H, W); got shape [{string.Join(", ", x.shape)}].", nameof(x));
        if (x.shape[1] != c)
            throw new ArgumentException($"TinyViM expects {c} input channels; got {x.shape[1]} (shape [{string.Join(", ", x.shape)}]).", nameof(x));
        var m = Config.InputMultiple;
        if (x.shape[2] % m != 0 || x.shape[3] % m != 0 || x.shape[2] == 0 || x.shape[3] == 0)
            throw new ArgumentException(
                $"TinyViM needs H and W to be positive multiples of {m} (stem ÷4 and three stride-2 down-samplers, and each " +
                $"stage pools its Mamba channels to the 1/{m} grid and adds them back to a full-size residual); got " +
                $"{x.shape[2]}×{x.shape[3]}. Resize first (e.g. 28×28 → 32×32 or 64×64).", nameof(x));
    }

    /// <summary>
    /// Official deploy form (<c>utils.replace_batchnorm</c>): every Conv2d_BN, RepDW and RepDW_Axias is replaced by its
    /// fused biased conv (BatchNorm running statistics folded in, RepDW's 1×1 and identity branches merged into the
    /// kernel). Eval-mode outputs are unchanged; the final <c>norm</c> BatchNorm stays, as in the official code.
    /// Call it on an eval-mode model; it cannot be undone. Keys then follow the official deploy graph
    /// (e.g. <c>patch_embed.0.weight</c> and <c>.bias</c>).
    /// </summary>
    public void SwitchToDeploy()
    {
        if (IsDeployed) return;
        patch_embed.SwitchToDeploy();
        foreach (var entry in network)
        {
            if (entry is IDeployable d) d.SwitchToDeploy();
            else
                foreach (var (_, child) in entry.named_children())
                    if (child is IDeployable block) block.SwitchToDeploy();
        }
        IsDeployed = true;
    }

    private static bool IsMambaBlock(TinyViMConfig c, int stage, int block) =>
        c.Layers[stage] - block <= c.SsmNum || (stage == c.ExtraMambaStage && block == c.Layers[stage] / 2);

    private nn.Module<Tensor, Tensor> MakeMambaBlock(TinyViMConfig c, int stage, double dropPath)
    {
        var dim = c.EmbedDims[stage];
        var mixer = new SS2D(dim, c.PoolKernels[stage], c.LowFreqSplit[stage], c.SsmDState, c.SsmRatio, c.DtRank,
            c.InceptionKernel) { ChunkSize = c.ScanChunkSize };
        _mixers.Add(mixer);
        return new TViMBlock(dim, mixer, (int)(dim * c.MambaMlpRatio), dropPath);
    }

    private static nn.Module<Tensor, Tensor> MakeLocalBlock(TinyViMConfig c, int stage, double dropPath)
    {
        var dim = c.EmbedDims[stage];
        return new LocalBlock(dim, (int)(c.MlpRatio * dim), dropPath, c.LayerScaleInit);
    }

    /// <summary>Official <c>_init_weights</c>: trunc-normal(0.02) convs/linears with zero bias, unit LayerNorms.</summary>
    private void InitWeights()
    {
        using var _ = torch.no_grad();
        foreach (var (_, m) in named_modules())
        {
            switch (m)
            {
                case Conv2d conv:
                    // timm trunc_normal_(std=.02); TorchSharp 0.107's nn.init.trunc_normal_ is broken (see LayerInit).
                    MLNetExtensions.Transforms.Layers.LayerInit.TruncNormal_(conv.weight, std: 0.02);
                    if (conv.bias is not null) nn.init.zeros_(conv.bias);
                    break;
                case Linear lin:
                    MLNetExtensions.Transforms.Layers.LayerInit.TruncNormal_(lin.weight, std: 0.02);
                    if (lin.bias is not null) nn.init.zeros_(lin.bias);
                    break;
                case LayerNorm ln:
                    nn.init.ones_(ln.weight);
                    nn.init.zeros_(ln.bias);
                    break;
            }
        }
    }
}

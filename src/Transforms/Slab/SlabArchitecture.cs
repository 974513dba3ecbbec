using System.Text.Json;
using System.Text.Json.Serialization;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Slab;

/// <summary>SLAB backbone family.</summary>
public enum SlabFamily
{
    /// <summary>Plain ViT (official <c>slab_deit.py</c>): one token grid, every block SLA (or softmax).</summary>
    DeiT,
    /// <summary>Hierarchical Swin (official <c>slab_swin.py</c>): SLA in the early stages, softmax windows later.</summary>
    Swin,
}

/// <summary>
/// What a saved SLAB classifier needs to rebuild its network: the family, the family's config (input size and class
/// count included) and whether the weights are in the folded (re-parameterised) form.
/// </summary>
/// <param name="Family">Which model class.</param>
/// <param name="Deit">The config when <paramref name="Family"/> is DeiT.</param>
/// <param name="Swin">The config when <paramref name="Family"/> is Swin.</param>
/// <param name="Deployed">True when every BatchNorm-type norm has been folded into its neighbour (build, then fold, then load).</param>
public sealed record SlabArchitecture(SlabFamily Family, SlabDeitConfig? Deit, SlabSwinConfig? Swin, bool Deployed) : MLNetExtensions.Core.Models.IModelArchitecture
{
    string MLNetExtensions.Core.Models.IModelArchitecture.ArchitectureName => Name;

    /// <summary>Name in <see cref="Core.Inference.TorchModelRegistry"/>.</summary>
    public const string Name = "slab";

    /// <summary>Small variants for CPU work (not in the official code), by family.</summary>
    public static readonly IReadOnlyList<string> SmallVariants = ["slab_deit_micro", "slab_deit_nano", "slab_swin_micro", "slab_swin_nano"];

    /// <summary>The norm kind of the configured model.</summary>
    [JsonIgnore]
    public TokenNormKind Norm => Family == SlabFamily.DeiT ? Deit!.Norm : Swin!.Norm;

    /// <summary>Serialises the spec.</summary>
    public string ToJson() => JsonSerializer.Serialize(this);

    /// <summary>Builds the network for a saved spec with <paramref name="numClasses"/> outputs (folded first when deployed, so folded weights load).</summary>
    public static nn.Module<Tensor, Tensor> Build(string json, int numClasses)
    {
        var spec = JsonSerializer.Deserialize<SlabArchitecture>(json) ?? throw new InvalidDataException("Empty SLAB architecture spec.");
        return spec.Create(numClasses);
    }

    /// <summary>Creates the network (random weights) with <paramref name="numClasses"/> outputs.</summary>
    public nn.Module<Tensor, Tensor> Create(int numClasses)
    {
        switch (Family)
        {
            case SlabFamily.DeiT:
                var d = new SlabDeit((Deit ?? throw new InvalidDataException("SLAB spec: DeiT family without a DeiT config.")) with { NumClasses = numClasses });
                if (Deployed) d.SwitchToDeploy();
                return d;
            case SlabFamily.Swin:
                var s = new SlabSwinTransformer((Swin ?? throw new InvalidDataException("SLAB spec: Swin family without a Swin config.")) with { NumClasses = numClasses });
                if (Deployed) s.SwitchToDeploy();
                return s;
            default:
                throw new InvalidDataException($"SLAB spec: unknown family {Family}.");
        }
    }

    /// <summary>
    /// A DeiT config by name: the official <c>deit_tiny_patch16_224_linear_repbn</c> / <c>deit_small_…</c>
    /// (aliases <c>tiny</c>, <c>small</c>) or the CPU-sized <c>slab_deit_micro</c> (patch 4, 64 wide, 4 blocks, 2 heads;
    /// alias <c>micro</c>) and <c>slab_deit_nano</c> (patch 4, 32 wide, 2 blocks, 2 heads; alias <c>nano</c>).
    /// </summary>
    public static SlabDeitConfig DeitVariant(string name) => name.ToLowerInvariant() switch
    {
        "tiny" => SlabDeitConfig.SlabDeitTiny,
        "small" => SlabDeitConfig.SlabDeitSmall,
        // Sizes of the method note's CPU reproduction (§7): patch 4 turns 28×28 Fashion-MNIST into 7×7 tokens.
        "micro" or "slab_deit_micro" => new SlabDeitConfig { Name = "slab_deit_micro", PatchSize = 4, EmbedDim = 64, Depth = 4, NumHeads = 2 },
        "nano" or "slab_deit_nano" => new SlabDeitConfig { Name = "slab_deit_nano", PatchSize = 4, EmbedDim = 32, Depth = 2, NumHeads = 2 },
        _ => SlabDeitConfig.FromName(name),
    };

    /// <summary>
    /// A Swin config by name: the official <c>slab_swin_tiny/small/base_patch4_224</c> (aliases <c>tiny</c>,
    /// <c>small</c>, <c>base</c>), <c>swin_tiny_repbn</c>, <c>swin_tiny_patch4_window7_224</c>, or the CPU-sized
    /// <c>slab_swin_micro</c> (patch 2, 32 wide, depths 2-2, heads 2-4, "LS" — the parity fixture's shape; alias
    /// <c>micro</c>) and <c>slab_swin_nano</c> (patch 2, 16 wide, depths 1-1, heads 1-2, "LS"; alias <c>nano</c>).
    /// </summary>
    public static SlabSwinConfig SwinVariant(string name) => name.ToLowerInvariant() switch
    {
        "tiny" => SlabSwinConfig.SlabSwinTiny,
        "small" => SlabSwinConfig.SlabSwinSmall,
        "base" => SlabSwinConfig.SlabSwinBase,
        "micro" or "slab_swin_micro" => new SlabSwinConfig
        { Name = "slab_swin_micro", PatchSize = 2, EmbedDim = 32, Depths = [2, 2], NumHeads = [2, 4], AttnType = "LS", DropPathRate = 0 },
        "nano" or "slab_swin_nano" => new SlabSwinConfig
        { Name = "slab_swin_nano", PatchSize = 2, EmbedDim = 16, Depths = [1, 1], NumHeads = [1, 2], AttnType = "LS", DropPathRate = 0 },
        _ => SlabSwinConfig.FromName(name),
    };

    /// <summary>
    /// Throws an <see cref="ArgumentException"/> naming <paramref name="column"/> when a model of this spec cannot take
    /// <paramref name="width"/>×<paramref name="height"/> images: they must be square; DeiT needs a multiple of the
    /// patch size; Swin a multiple of patch·2^(stages−1), and every stage's map must be at most its window or a
    /// multiple of it (softmax stages use windows of 7).
    /// </summary>
    public static void CheckImageSize(SlabFamily family, SlabDeitConfig? deit, SlabSwinConfig? swin, string column, int height, int width)
    {
        string hint = $"Resize first, e.g. mlContext.Transforms.ResizeImages(\"{column}\", W, H, \"{column}\").";
        if (height != width)
            throw new ArgumentException($"Column '{column}' holds {width}×{height} images; SLAB models need square images (the SLA positional term and depthwise conv are sized to a square token grid). {hint}", column);
        if (family == SlabFamily.DeiT)
        {
            int p = deit!.PatchSize;
            if (height % p != 0)
                throw new ArgumentException($"Column '{column}' holds {width}×{height} images; SLAB-DeiT ({deit.Name}) needs a side that is a multiple of the patch size {p}. {hint}", column);
            return;
        }
        var c = swin!;
        int stages = c.Depths.Length, multiple = c.PatchSize << (stages - 1);
        if (height % multiple != 0)
            throw new ArgumentException($"Column '{column}' holds {width}×{height} images; SLAB-Swin ({c.Name}) needs a side that is a multiple of {multiple} " +
                $"(patch {c.PatchSize} × 2^{stages - 1} patch mergings). {hint}", column);
        for (int i = 0; i < stages; i++)
        {
            int res = height / c.PatchSize >> i;
            char kind = i < c.AttnType.Length ? c.AttnType[i] : 'S';
            int window = kind == 'L' ? c.WindowSize : (c.WindowSize <= 56 ? 7 : 12);
            if (res > window && res % window != 0)
                throw new ArgumentException($"Column '{column}' holds {width}×{height} images; SLAB-Swin ({c.Name}) stage {i + 1} would see a {res}×{res} map, " +
                    $"which its {(kind == 'L' ? "SLA" : "softmax")} window of {window} does not divide (every stage's map must be ≤ its window or a multiple of it; " +
                    $"e.g. 28×28 or 56×56 for patch 2 or 4 with a softmax stage of 7). {hint}", column);
        }
    }
}

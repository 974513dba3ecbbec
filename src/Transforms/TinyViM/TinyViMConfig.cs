namespace MLNetExtensions.Transforms.TinyViM;

/// <summary>
/// Architecture hyper-parameters of a TinyViM network (official code: xwmaxwma/TinyViM <c>model/tinyvim.py</c>,
/// <c>model/tvimblock.py</c>). The defaults of every member are the official ones; the static members are the
/// official variants (<see cref="S"/>, <see cref="B"/>, <see cref="L"/>) plus small configurations for tests and CPU
/// training.
/// </summary>
/// <param name="Name">Variant name (informational; used by <see cref="Named"/>).</param>
/// <param name="Layers">Blocks per stage (official <c>layers</c>, four entries).</param>
/// <param name="EmbedDims">Channel width of each stage (official <c>embed_dims</c>, four even entries).</param>
public sealed record TinyViMConfig(string Name, int[] Layers, int[] EmbedDims)
{
    /// <summary>FFN expansion of the LocalBlocks (official <c>mlp_ratios</c>, default 4).</summary>
    public double MlpRatio { get; init; } = 4.0;

    /// <summary>
    /// FFN expansion of the TViMBlocks. The official <c>Stage</c> never forwards <c>mlp_ratios</c> to TViMBlock, so it
    /// always uses TViMBlock's default 4.0 whatever <see cref="MlpRatio"/> is.
    /// </summary>
    public double MambaMlpRatio { get; init; } = 4.0;

    /// <summary>Whether a downsampling Embedding follows stage i (official <c>downsamples</c>; one is also inserted
    /// when consecutive widths differ).</summary>
    public bool[] Downsamples { get; init; } = [true, true, true, true];

    /// <summary>Kernel size of the downsampling Embeddings (official <c>down_patch_size</c>).</summary>
    public int DownPatchSize { get; init; } = 3;

    /// <summary>Stride of the downsampling Embeddings (official <c>down_stride</c>).</summary>
    public int DownStride { get; init; } = 2;

    /// <summary>Padding of the downsampling Embeddings (official <c>down_pad</c>).</summary>
    public int DownPad { get; init; } = 1;

    /// <summary>Number of TViMBlocks at the end of every stage (official <c>ssm_num</c>).</summary>
    public int SsmNum { get; init; } = 1;

    /// <summary>
    /// Stage that gets one extra TViMBlock at block index <c>Layers[stage] / 2</c> (hard-coded to stage index 2 in the
    /// official <c>Stage</c>); -1 disables it.
    /// </summary>
    public int ExtraMambaStage { get; init; } = 2;

    /// <summary>SSM state size N (official TViMBlock <c>ssm_d_state</c>=8; SS2D's own default 16 is overridden).</summary>
    public int SsmDState { get; init; } = 8;

    /// <summary>Mixer expansion (official <c>ssm_ratio</c>=1.0: mixer width = block width).</summary>
    public double SsmRatio { get; init; } = 1.0;

    /// <summary>Low-rank size of the step-size projection; null = official "auto" = ceil(block width / 16).</summary>
    public int? DtRank { get; init; }

    /// <summary>
    /// Share of the mixer channels sent through the Laplace/Mamba (low-frequency) branch per stage (official
    /// <c>split_list</c> = 1/4, 1/2, 1/2, 3/4); the rest go to the RepDW (high-frequency) branch.
    /// </summary>
    public double[] LowFreqSplit { get; init; } = [0.25, 0.5, 0.5, 0.75];

    /// <summary>
    /// Average-pool factor of the low-frequency branch per stage (official <c>2**(3-index)</c> = 8, 4, 2, 1), so every
    /// scan sees the 1/32-resolution grid. 1 means no pooling and no Laplacian residual (official stage 4).
    /// </summary>
    public int[] PoolKernels { get; init; } = [8, 4, 2, 1];

    /// <summary>Kernel length of the axial Rep_Inception depthwise convs (official <c>kernel_max</c>=7).</summary>
    public int InceptionKernel { get; init; } = 7;

    /// <summary>
    /// Stochastic-depth rate. The official code never passes a non-zero rate (every DropPath is identity); a positive
    /// value here applies timm's per-sample DropPath with a rate rising linearly from 0 to this value over all blocks.
    /// </summary>
    public double DropPathRate { get; init; } = 0.0;

    /// <summary>
    /// Initial value of the LocalBlock layer scale. The official constructor creates it with <c>torch.ones</c>; its
    /// <c>layer_scale_init_value=1e-5</c> argument is dead code, so the effective (and default) value is 1.
    /// </summary>
    public double LayerScaleInit { get; init; } = 1.0;

    /// <summary>Input channels of the stem (the official stem is hard-wired to 3).</summary>
    public int InChannels { get; init; } = 3;

    /// <summary>Chunk length used by the model's chunked selective scan (see <see cref="SelectiveScan.Chunked"/>).</summary>
    public int ScanChunkSize { get; init; } = 8;

    /// <summary>
    /// H and W must be multiples of this (32 for every official variant): each stage's map (input ÷ 4 after the stem,
    /// ÷ <see cref="DownStride"/> after every Embedding) must divide exactly by that stage's pool factor, because the
    /// up-sampled scan output is added to a full-size Laplacian residual.
    /// </summary>
    public int InputMultiple
    {
        get
        {
            long stride = 4, multiple = 1;
            for (var i = 0; i < Layers.Length; i++)
            {
                multiple = Lcm(multiple, stride * PoolKernels[i]);
                if (i < Layers.Length - 1 && HasDownsample(i)) stride *= DownStride;
            }
            return (int)Lcm(multiple, stride);
        }
    }

    /// <summary>Whether an Embedding (down-sampler) follows stage <paramref name="stage"/> (official rule:
    /// <c>downsamples[i] or embed_dims[i] != embed_dims[i + 1]</c>).</summary>
    public bool HasDownsample(int stage) =>
        stage < Layers.Length - 1 && (Downsamples[stage] || EmbedDims[stage] != EmbedDims[stage + 1]);

    private static long Lcm(long a, long b)
    {
        long x = a, y = b;
        while (y != 0) (x, y) = (y, x % y);
        return a / x * b;
    }

    /// <summary>TinyViM-S (official <c>TinyViM_S</c>): widths 48/64/168/224, depths 3/3/9/6; 5.6 M params w/o dist head.</summary>
    public static TinyViMConfig S { get; } = new("TinyViM_S", [3, 3, 9, 6], [48, 64, 168, 224]);

    /// <summary>TinyViM-B (official <c>TinyViM_B</c>): widths 48/96/192/384, depths 4/3/10/5; 11.0 M params w/o dist head.</summary>
    public static TinyViMConfig B { get; } = new("TinyViM_B", [4, 3, 10, 5], [48, 96, 192, 384]);

    /// <summary>TinyViM-L (official <c>TinyViM_L</c>): widths 64/128/384/512, depths 4/4/12/6; 31.7 M params w/o dist head.</summary>
    public static TinyViMConfig L { get; } = new("TinyViM_L", [4, 4, 12, 6], [64, 128, 384, 512]);

    /// <summary>
    /// The parity-fixture configuration (widths 16/32/48/64, depths 2/1/3/1; 193,464 params with 10 classes and the
    /// distillation head). It is also the configuration of the method note's Fashion-MNIST reference run
    /// (64×64 inputs, no distillation head: ≈84/88/90 % test accuracy after 1/2/3 cosine epochs).
    /// </summary>
    public static TinyViMConfig Tiny { get; } = new("Tiny", [2, 1, 3, 1], [16, 32, 48, 64]);

    /// <summary>
    /// A lighter variant for 64×64 Fashion-MNIST on a 2-core CPU: widths 16/24/32/48, depths 1/1/2/1 (every stage keeps
    /// its TViMBlock). Not an official variant; use <see cref="Tiny"/> to reproduce the method note's numbers.
    /// </summary>
    public static TinyViMConfig Micro { get; } = new("Micro", [1, 1, 2, 1], [16, 24, 32, 48]);

    /// <summary>All named variants, official ones first.</summary>
    public static IReadOnlyList<TinyViMConfig> All { get; } = [S, B, L, Tiny, Micro];

    /// <summary>
    /// Looks a variant up by name, case-insensitively. Accepts the official registry names (<c>TinyViM_S</c>), the short
    /// letters (<c>S</c>, <c>B</c>, <c>L</c>), <c>TinyViM-S</c> spellings, <c>Tiny</c> and <c>Micro</c>.
    /// </summary>
    /// <exception cref="ArgumentException">Unknown name; the message lists the valid names.</exception>
    public static TinyViMConfig Named(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var key = name.Trim().Replace('-', '_');
        foreach (var c in All)
        {
            if (string.Equals(c.Name, key, StringComparison.OrdinalIgnoreCase)) return c;
            if (c.Name.StartsWith("TinyViM_", StringComparison.Ordinal) &&
                string.Equals(c.Name["TinyViM_".Length..], key, StringComparison.OrdinalIgnoreCase)) return c;
        }
        throw new ArgumentException(
            $"Unknown TinyViM variant '{name}'. Valid names: {string.Join(", ", All.Select(c => c.Name))} " +
            "(the official ones also as S, B, L).", nameof(name));
    }

    /// <summary>Checks the configuration and throws <see cref="ArgumentException"/> naming the first problem.</summary>
    public void Validate()
    {
        if (Layers is null || Layers.Length != 4) throw new ArgumentException("TinyViM needs exactly 4 stage depths (Layers).");
        if (EmbedDims is null || EmbedDims.Length != 4) throw new ArgumentException("TinyViM needs exactly 4 stage widths (EmbedDims).");
        if (Layers.Any(d => d < 1)) throw new ArgumentException("Every stage depth must be at least 1.");
        if (EmbedDims.Any(c => c < 2 || c % 2 != 0))
            throw new ArgumentException("Every stage width must be an even number ≥ 2 (Rep_Inception splits the mixer channels in half).");
        if (Downsamples is null || Downsamples.Length < 3) throw new ArgumentException("Downsamples needs an entry for stages 0..2.");
        if (LowFreqSplit is null || LowFreqSplit.Length != 4 || LowFreqSplit.Any(r => r <= 0 || r >= 1))
            throw new ArgumentException("LowFreqSplit needs 4 ratios in (0, 1).");
        if (PoolKernels is null || PoolKernels.Length != 4 || PoolKernels.Any(k => k < 1))
            throw new ArgumentException("PoolKernels needs 4 positive pool factors.");
        if (SsmDState < 1) throw new ArgumentException("SsmDState must be positive.");
        if (SsmRatio <= 0) throw new ArgumentException("SsmRatio must be positive.");
        if (DtRank is < 1) throw new ArgumentException("DtRank must be positive when set.");
        if (MlpRatio <= 0 || MambaMlpRatio <= 0) throw new ArgumentException("MLP ratios must be positive.");
        if (DropPathRate is < 0 or >= 1) throw new ArgumentException("DropPathRate must be in [0, 1).");
        if (InChannels < 1) throw new ArgumentException("InChannels must be positive.");
        if (ScanChunkSize < 1) throw new ArgumentException("ScanChunkSize must be positive.");
        for (var i = 0; i < 4; i++)
        {
            var dExpand = (int)(SsmRatio * EmbedDims[i]);
            var dLow = (int)(dExpand * LowFreqSplit[i]);
            if (dExpand % 2 != 0) throw new ArgumentException($"Stage {i}: mixer width {dExpand} must be even.");
            if (dLow < 1 || dLow >= dExpand)
                throw new ArgumentException($"Stage {i}: low-frequency split {LowFreqSplit[i]} of {dExpand} channels leaves an empty branch.");
        }
    }
}

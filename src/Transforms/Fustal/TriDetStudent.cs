using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Fustal;

/// <summary>A head shared over pyramid levels: <c>HeadLayers</c> × (Conv k3 → LN → ReLU, masked) then an output Conv k3.</summary>
public sealed class TriDetHead : nn.Module<(Tensor X, Tensor Mask), Tensor>
{
    private readonly ModuleList<Conv1d> head;
    private readonly ModuleList<ChannelLayerNorm> norm;
    private readonly Conv1d cls_head;

    /// <summary>Creates the head; <paramref name="biasInit"/> sets the output bias (the classification prior).</summary>
    public TriDetHead(int input, int width, int layers, int output, double? biasInit = null) : base(nameof(TriDetHead))
    {
        head = new ModuleList<Conv1d>(); norm = new ModuleList<ChannelLayerNorm>();
        for (int i = 0; i < layers; i++)
        {
            head.Add(nn.Conv1d(i == 0 ? input : width, width, 3, padding: 1, bias: false));
            norm.Add(new ChannelLayerNorm(width));
        }
        cls_head = nn.Conv1d(layers == 0 ? input : width, output, 3, padding: 1);
        if (biasInit is double b)
            using (torch.no_grad())
            cls_head.bias!.FillInPlace(b);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward((Tensor X, Tensor Mask) input)
    {
        var (x, mask) = input;
        using var scope = NewDisposeScope();
        for (int i = 0; i < head.Count; i++) x = nn.functional.relu(norm[i].call(head[i].call(x) * mask));
        return (cls_head.call(x) * mask).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// FuSTAL's student, a TriDet-style anchor-free 1-D detector (note fustal.md §5.1) as a named-tensor network. Input
/// <see cref="FeaturesSlot"/> (B, L, D) with optional <c>feats.lengths</c>; the length is padded to a multiple of the
/// coarsest stride. Outputs over all pyramid positions P (levels concatenated): <see cref="LogitsSlot"/> (B, P, C),
/// the Trident-decoded class-wise distances <see cref="LeftSlot"/>/<see cref="RightSlot"/> (B, P, C, in units of the
/// level's stride: the expectation of a softmax over NumBins+1 bins whose logits are the boundary logits of the
/// neighbouring positions plus the centre-offset logits), <see cref="ValidSlot"/> (B, P), <see cref="PointsSlot"/> and
/// <see cref="StridesSlot"/> (P), the video scores of the MIL branch <see cref="VideoScoresSlot"/> (B, C) and
/// <see cref="LengthsSlot"/>.
/// </summary>
public sealed class TriDetStudent : nn.Module<Dictionary<string, Tensor>, Dictionary<string, Tensor>>
{
    /// <summary>Input slot.</summary>
    public const string FeaturesSlot = "feats";
    /// <summary>Classification logits.</summary>
    public const string LogitsSlot = "cls_logits";
    /// <summary>Left distances.</summary>
    public const string LeftSlot = "dist_left";
    /// <summary>Right distances.</summary>
    public const string RightSlot = "dist_right";
    /// <summary>Valid positions (1/0).</summary>
    public const string ValidSlot = "valid";
    /// <summary>Grid position of every pyramid position.</summary>
    public const string PointsSlot = "points";
    /// <summary>Stride of every pyramid position.</summary>
    public const string StridesSlot = "strides";
    /// <summary>MIL video scores (softmax over classes of the top-k mean of the level-0 logits).</summary>
    public const string VideoScoresSlot = "video_scores";
    /// <summary>Level-0 positions (the MIL branch reads the first this-many logits).</summary>
    public const string Level0Slot = "level0";
    /// <summary>Input lengths.</summary>
    public const string LengthsSlot = "lengths";

    private readonly ModuleList<Conv1d> embd;
    private readonly ModuleList<ChannelLayerNorm> embd_norm;
    private readonly ModuleList<SgpBlock> stem, branch;
    private readonly ModuleList<ChannelLayerNorm> neck;
    private readonly TriDetHead cls_head, reg_head, start_head, end_head;
    private readonly Parameter scale;
    private readonly Dropout mil_dropout;
    private static readonly Scalar Padded = (-1e4f).ToScalar(); // rooted for the process lifetime

    /// <summary>Creates the network with random weights.</summary>
    public TriDetStudent(TriDetConfig config) : base(nameof(TriDetStudent))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        MLNetExtensions.Core.Torch.ConvolutionBackend.EnsureCorrect();
        int e = config.EmbedDim;
        embd = new ModuleList<Conv1d>(nn.Conv1d(config.FeatureDim, e, 3, padding: 1, bias: false), nn.Conv1d(e, e, 3, padding: 1, bias: false));
        embd_norm = new ModuleList<ChannelLayerNorm>(new ChannelLayerNorm(e), new ChannelLayerNorm(e));
        stem = new ModuleList<SgpBlock>();
        for (int i = 0; i < config.StemBlocks; i++) stem.Add(new SgpBlock(e, config.Window, config.K, 1, config.MlpDim, 0));
        branch = new ModuleList<SgpBlock>();
        for (int i = 1; i < config.NumLevels; i++) branch.Add(new SgpBlock(e, config.Window, config.K, 2, config.MlpDim, config.DropPath));
        neck = new ModuleList<ChannelLayerNorm>();
        for (int i = 0; i < config.NumLevels; i++) neck.Add(new ChannelLayerNorm(e));
        double prior = -Math.Log((1 - config.PriorProbability) / config.PriorProbability);
        cls_head = new TriDetHead(e, config.HeadDim, config.HeadLayers, config.NumClasses, prior);
        reg_head = new TriDetHead(e, config.HeadDim, config.HeadLayers, 2 * (config.NumBins + 1));
        start_head = new TriDetHead(e, config.HeadDim, config.HeadLayers, config.NumClasses);
        end_head = new TriDetHead(e, config.HeadDim, config.HeadLayers, config.NumClasses);
        scale = nn.Parameter(torch.ones(config.NumLevels)); // ActionFormer's per-level Scale
        mil_dropout = nn.Dropout(config.MilDropout);
        RegisterComponents();
    }

    /// <summary>The configuration.</summary>
    public TriDetConfig Config { get; }

    /// <summary>
    /// In training, one forward over the padded batch (as the official trainer). In evaluation each video runs alone,
    /// padded only to a multiple of the coarsest stride (the official batch-1 evaluation), and the levels are padded to
    /// the batch's longest: the SGP global mean and the boundary convolutions see the padding, so a batched forward would
    /// make a video's detections depend on its batch-mates.
    /// </summary>
    public override Dictionary<string, Tensor> forward(Dictionary<string, Tensor> inputs)
    {
        if (!inputs.TryGetValue(FeaturesSlot, out var feats))
            throw new KeyNotFoundException($"The FuSTAL student reads slot '{FeaturesSlot}'; the batch has {string.Join(", ", inputs.Keys)}.");
        if (feats.dim() != 3 || feats.shape[2] != Config.FeatureDim)
            throw new ArgumentException($"Expected features (B, L, {Config.FeatureDim}); got ({string.Join(", ", feats.shape)}).", nameof(inputs));
        long b = feats.shape[0], l = feats.shape[1];
        var lengthValues = inputs.TryGetValue(FeaturesSlot + ".lengths", out var len)
            ? len.cpu().to_type(ScalarType.Int64).data<long>().ToArray() : Enumerable.Repeat(l, (int)b).ToArray();
        using var scope = NewDisposeScope();
        List<Level> levels; Tensor video;
        if (training || b == 1) (levels, video) = Levels(feats, lengthValues);
        else
        {
            var rows = Enumerable.Range(0, (int)b).Select(r => Levels(feats.narrow(0, r, 1).narrow(1, 0, Math.Max(1, lengthValues[r])), new[] { lengthValues[r] })).ToList();
            levels = new List<Level>();
            for (int lv = 0; lv < Config.NumLevels; lv++)
            {
                long tl = rows.Max(r => r.Levels[lv].Valid.shape[1]);
                Tensor Pad(Tensor x, bool perClass) => x.shape[1] == tl ? x
                    : nn.functional.pad(x, perClass ? new long[] { 0, 0, 0, tl - x.shape[1] } : new long[] { 0, tl - x.shape[1] });
                levels.Add(new Level(torch.cat(rows.Select(r => Pad(r.Levels[lv].Logits, true)).ToList(), 0), torch.cat(rows.Select(r => Pad(r.Levels[lv].Left, true)).ToList(), 0),
                    torch.cat(rows.Select(r => Pad(r.Levels[lv].Right, true)).ToList(), 0), torch.cat(rows.Select(r => Pad(r.Levels[lv].Valid, false)).ToList(), 0)));
            }
            video = torch.cat(rows.Select(r => r.Video).ToList(), 0);
        }
        var points = new List<Tensor>(); var strides = new List<Tensor>();
        for (int lv = 0; lv < levels.Count; lv++)
        {
            int tl = (int)levels[lv].Valid.shape[1], stride = 1 << lv;
            points.Add(torch.tensor(Enumerable.Range(0, tl).Select(i => (float)(i * stride)).ToArray(), device: feats.device));
            strides.Add(torch.tensor(Enumerable.Repeat((float)stride, tl).ToArray(), device: feats.device));
        }
        return new Dictionary<string, Tensor>
        {
            [LogitsSlot] = torch.cat(levels.Select(x => x.Logits).ToList(), 1).MoveToOuterDisposeScope(),
            [LeftSlot] = torch.cat(levels.Select(x => x.Left).ToList(), 1).MoveToOuterDisposeScope(),
            [RightSlot] = torch.cat(levels.Select(x => x.Right).ToList(), 1).MoveToOuterDisposeScope(),
            [ValidSlot] = torch.cat(levels.Select(x => x.Valid).ToList(), 1).MoveToOuterDisposeScope(),
            [PointsSlot] = torch.cat(points, 0).MoveToOuterDisposeScope(),
            [StridesSlot] = torch.cat(strides, 0).MoveToOuterDisposeScope(),
            [VideoScoresSlot] = video.MoveToOuterDisposeScope(),
            [Level0Slot] = torch.tensor(levels[0].Valid.shape[1]).MoveToOuterDisposeScope(),
            [LengthsSlot] = torch.tensor(lengthValues, device: feats.device).MoveToOuterDisposeScope(),
        };
    }

    /// <summary>One pyramid level's outputs: logits and class-wise distances (B, Tl, C), valid positions (B, Tl).</summary>
    private sealed record Level(Tensor Logits, Tensor Left, Tensor Right, Tensor Valid);

    private (List<Level> Levels, Tensor Video) Levels(Tensor feats, long[] lengthValues)
    {
        long b = feats.shape[0], l = feats.shape[1];
        long t = (l + Config.MaxStride - 1) / Config.MaxStride * Config.MaxStride;
        var x = feats.transpose(1, 2);
        if (t > l) x = nn.functional.pad(x, new long[] { 0, t - l });
        // Host-built constants (no temporary Scalars in the forward: TorchSharp 0.107 passes them unrooted).
        var maskValues = new float[b * t];
        for (int i = 0; i < b; i++) for (long j = 0; j < Math.Min(t, lengthValues[i]); j++) maskValues[i * t + j] = 1;
        var mask = torch.tensor(maskValues, new long[] { b, 1, t }, device: feats.device).to_type(feats.dtype);

        for (int i = 0; i < embd.Count; i++) x = nn.functional.relu(embd_norm[i].call(embd[i].call(x) * mask));
        foreach (var s in stem) (x, mask) = s.call((x, mask));
        var pyramid = new List<(Tensor X, Tensor Mask)> { (x, mask) };
        foreach (var s in branch) { (x, mask) = s.call((x, mask)); pyramid.Add((x, mask)); }

        int nb = Config.NumBins;
        var left = torch.tensor(Enumerable.Range(0, nb + 1).Select(i => (float)(nb - i)).ToArray(), device: feats.device).to_type(feats.dtype);
        var right = torch.tensor(Enumerable.Range(0, nb + 1).Select(i => (float)i).ToArray(), device: feats.device).to_type(feats.dtype);
        var levels = new List<Level>();
        for (int lv = 0; lv < pyramid.Count; lv++)
        {
            var (f, m) = pyramid[lv];
            f = neck[lv].call(f);
            long tl = f.shape[2];
            var cls = cls_head.call((f, m));                                             // (B, C, Tl)
            var off = nn.functional.relu(reg_head.call((f, m)) * scale[lv]);               // (B, 2(nb+1), Tl)
            var fd = f.detach();
            var sb = start_head.call((fd, m)); var eb = end_head.call((fd, m));           // (B, C, Tl), boundary heads on detached features
            var sn = nn.functional.pad(sb, new long[] { nb, 0 }).unfold(2, nb + 1, 1);     // (B, C, Tl, nb+1): positions t−nb … t
            var en = nn.functional.pad(eb, new long[] { 0, nb }).unfold(2, nb + 1, 1);     // positions t … t+nb
            var o = off.view(b, 2, nb + 1, tl).permute(0, 1, 3, 2);                        // (B, 2, Tl, nb+1)
            var pl = nn.functional.softmax(sn.Plus(o.narrow(1, 0, 1)), -1);
            var pr = nn.functional.softmax(en.Plus(o.narrow(1, 1, 1)), -1);
            levels.Add(new Level(cls.transpose(1, 2), pl.matmul(left).transpose(1, 2), pr.matmul(right).transpose(1, 2), m.squeeze(1)));
        }
        // MIL branch (FuSTAL): level-0 logits → dropout → mean of the top-k over time (k = ⌊valid positions of the batch / 5⌋) → softmax.
        var l0 = levels[0].Logits;
        var m0 = levels[0].Valid;
        long k = Math.Clamp((long)m0.sum().item<float>() / 5, 1, l0.shape[1]);
        // Padded positions get a large negative logit, equal for every class (a per-class constant cancels in the softmax).
        var masked = mil_dropout.call(l0).masked_fill(m0.unsqueeze(2).to_type(ScalarType.Bool).logical_not(), Padded);
        var video = nn.functional.softmax(masked.topk((int)k, 1).values.mean(new long[] { 1 }), 1);
        return (levels, video);
    }
}

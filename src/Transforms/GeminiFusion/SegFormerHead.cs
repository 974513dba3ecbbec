using MLNetExtensions.Transforms.Ssa;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using MLNetExtensions.Transforms.Segmentation;

namespace MLNetExtensions.Transforms.GeminiFusion;

/// <summary>Official SegFormer <c>MLP</c> (linear embedding): a feature map (B, C, H, W) to tokens (B, H·W, E). Key <c>proj.*</c>.</summary>
public sealed class SegFormerLinearEmbed : nn.Module<Tensor, Tensor>
{
    private readonly Linear proj;

    /// <summary>Creates the embedding (PyTorch default Linear init, as the official head).</summary>
    public SegFormerLinearEmbed(int inputDim, int embedDim) : base(nameof(SegFormerLinearEmbed))
    {
        proj = nn.Linear(inputDim, embedDim);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var tokens = x.flatten(2).transpose(1, 2);
        return proj.call(tokens);
    }
}

/// <summary>
/// Official SegFormer all-MLP decoder (GeminiFusion models/segformer.py <c>SegFormerHead</c>): per-scale linear
/// embedding to E channels, bilinear resize (align_corners=False) to the stride-4 map, concatenation in the order
/// c4, c3, c2, c1, 1×1 ConvModule (conv without bias + BatchNorm + ReLU), Dropout2d(0.1), 1×1 classifier. Logits stay at
/// the first map's resolution (input/4), as the official forward. Keys <c>linear_c4/c3/c2/c1.proj.*</c>,
/// <c>linear_fuse.conv.weight</c>, <c>linear_fuse.bn.*</c>, <c>linear_pred.*</c>. With fewer than four stages the
/// missing <c>linear_c{s}</c> are absent.
/// </summary>
public sealed class SegFormerHead : nn.Module<IReadOnlyList<Tensor>, Tensor>
{
    private readonly SegFormerLinearEmbed? linear_c4;
    private readonly SegFormerLinearEmbed? linear_c3;
    private readonly SegFormerLinearEmbed? linear_c2;
    private readonly SegFormerLinearEmbed linear_c1;
    private readonly Dropout2d dropout;
    private readonly ConvModule linear_fuse;
    private readonly Conv2d linear_pred;

    private readonly SegFormerLinearEmbed[] _embeds;

    /// <summary>Creates the head over feature maps of <paramref name="inChannels"/> channels (strides 4, 8, 16, 32).</summary>
    public SegFormerHead(IReadOnlyList<int> inChannels, int embeddingDim, int numClasses, double dropout = 0.1) : base(nameof(SegFormerHead))
    {
        ArgumentNullException.ThrowIfNull(inChannels);
        if (inChannels.Count is < 1 or > 4) throw new ArgumentException("The head takes 1 to 4 feature maps.", nameof(inChannels));
        if (embeddingDim < 1) throw new ArgumentOutOfRangeException(nameof(embeddingDim), embeddingDim, "Embedding width must be ≥ 1.");
        if (numClasses < 1) throw new ArgumentOutOfRangeException(nameof(numClasses), numClasses, "At least one class.");
        InChannels = inChannels.ToArray();
        NumClasses = numClasses;
        _embeds = inChannels.Select(c => new SegFormerLinearEmbed(c, embeddingDim)).ToArray();
        int s = _embeds.Length;
        linear_c4 = s > 3 ? _embeds[3] : null;
        linear_c3 = s > 2 ? _embeds[2] : null;
        linear_c2 = s > 1 ? _embeds[1] : null;
        linear_c1 = _embeds[0];
        this.dropout = nn.Dropout2d(dropout);
        linear_fuse = new ConvModule(embeddingDim * s, embeddingDim, 1);
        linear_pred = nn.Conv2d(embeddingDim, numClasses, 1);
        RegisterComponents();
    }

    /// <summary>Channels of the expected feature maps.</summary>
    public IReadOnlyList<int> InChannels { get; }

    /// <summary>Number of classes.</summary>
    public int NumClasses { get; }

    /// <summary>The fusion ConvModule (its BatchNorm is <c>linear_fuse.bn</c>).</summary>
    public ConvModule LinearFuse => linear_fuse;

    /// <summary>Logits (B, K, h₁, w₁) at the first map's resolution.</summary>
    public override Tensor forward(IReadOnlyList<Tensor> features)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (features.Count != _embeds.Length)
            throw new ArgumentException($"Expected {_embeds.Length} feature maps; got {features.Count}.", nameof(features));
        for (int i = 0; i < features.Count; i++)
            if (features[i] is null || features[i].dim() != 4 || features[i].shape[1] != InChannels[i])
                throw new ArgumentException($"Feature map {i} must be (B, {InChannels[i]}, h, w).", nameof(features));
        using var scope = torch.NewDisposeScope();
        var c1 = features[0];
        long n = c1.shape[0];
        var size = new[] { c1.shape[2], c1.shape[3] };
        var parts = new Tensor[features.Count];
        for (int i = features.Count - 1; i >= 0; i--)
        {
            var f = features[i];
            var e = _embeds[i].call(f).permute(0, 2, 1).reshape(n, -1, f.shape[2], f.shape[3]);
            if (i > 0) e = nn.functional.interpolate(e, size: size, mode: InterpolationMode.Bilinear, align_corners: false);
            parts[features.Count - 1 - i] = e;
        }
        var fused = linear_fuse.call(torch.cat(parts, 1));
        return linear_pred.call(dropout.call(fused)).MoveToOuterDisposeScope();
    }
}

using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Transforms.Segmentation;
using MLNetExtensions.Transforms.Ssa;

namespace MLNetExtensions.Estimators.Segmentation;

public sealed partial class SsaSegmenter
{
    /// <summary>
    /// Options of <see cref="SsaSegmenter"/>. Shared training options come from <see cref="TorchTrainerOptions"/>; the
    /// defaults here follow the official recipe where it applies (AdamW, weight decay 0.01, poly(1) = linear decay).
    /// <see cref="TorchTrainerOptions.LabelSmoothing"/> is not used (the official losses have none).
    /// </summary>
    public sealed class Options : TorchTrainerOptions
    {
        /// <summary>
        /// Sets the segmentation defaults (label column <c>Mask</c>, batch 16, 10 epochs, AdamW lr 5e-4 with the decode head
        /// at ×10, linear decay, wd 0.01). The official SegFormer/SegNeXt ADE20K configs use lr 6e-5 for an ImageNet
        /// backbone over 160k iterations, which at a few hundred steps leaves the plain head's small-initialised
        /// classifier untrained. On the Fashion-MNIST scenes with a pretrained backbone (600 steps, docs/ssa.md) validation
        /// mIoU rose with the lr up to 3e-3–6e-3 for both heads; 5e-4 is a conservative default (not tuned for a random
        /// backbone). Sweep it with <c>mlContext.Sweeps()</c> for your data.
        /// </summary>
        public Options()
        {
            LabelColumnName = ColumnNames.Mask;
            BatchSize = 16;
            MaxEpochs = 10;
            LearningRate = 5e-4; // backbone; the decode head trains at HeadLearningRateMultiplier × this (5e-3)
            WeightDecay = 0.01;
            Schedule = LearningRateSchedule.Linear;
            InferenceBatchSize = 32;
        }

        /// <summary>Image column: a sized MLImage or a Vector&lt;Single&gt; C×H×W; H and W multiples of 32. Default <c>Image</c>.</summary>
        public string ImageColumnName { get; set; } = ColumnNames.Image;
        /// <summary>Channels of a flat float-vector image column (1 or 3); null = from the vector's dimensions.</summary>
        public int? ImageChannels { get; set; }
        /// <summary>Height of a flat float-vector image column; null = from the vector's dimensions.</summary>
        public int? ImageHeight { get; set; }
        /// <summary>Width of a flat float-vector image column; null = from the vector's dimensions.</summary>
        public int? ImageWidth { get; set; }
        /// <summary>Per-channel mean subtracted from [0,1] pixels. Default ImageNet's (0.485, 0.456, 0.406).</summary>
        public float[] Mean { get; set; } = { 0.485f, 0.456f, 0.406f };
        /// <summary>Per-channel standard deviation. Default ImageNet's (0.229, 0.224, 0.225).</summary>
        public float[] Std { get; set; } = { 0.229f, 0.224f, 0.225f };

        /// <summary>Pixel classifier: <see cref="SegmentationHeadKind.Ssa"/> (default) or <see cref="SegmentationHeadKind.Plain"/>.</summary>
        public SegmentationHeadKind Head { get; set; } = SegmentationHeadKind.Ssa;
        /// <summary>Channels of the backbone's four maps (strides 4, 8, 16, 32). Default (16, 32, 64, 96).</summary>
        public int[] BackboneWidths { get; set; } = { 16, 32, 64, 96 };
        /// <summary>Decoder/head width C. Default 64.</summary>
        public int DecoderChannels { get; set; } = 64;
        /// <summary>Dropout2d before the 1×1 classifier. Default 0.1 (mmseg).</summary>
        public double DropoutRatio { get; set; } = 0.1;
        /// <summary>Border strip of SSA's distillation edge mask at stride 4 (official 6 assumes 128-px maps). Default 1.</summary>
        public int EdgeBorder { get; set; } = 1;

        /// <summary>
        /// Learning-rate multiplier of the whole decode head (decoder body and classifier, parameters <c>decode_head.*</c>),
        /// for either head. Default 10, as the official recipes (mmseg <c>paramwise_cfg custom_keys={'head': lr_mult=10}</c>
        /// matches every <c>decode_head.</c> name). Norm parameters and biases never decay (the shared loop's rule).
        /// </summary>
        public double HeadLearningRateMultiplier { get; set; } = 10;

        /// <inheritdoc/>
        public override void Validate()
        {
            base.Validate();
            if (string.IsNullOrEmpty(ImageColumnName)) throw new ArgumentException("ImageColumnName must be set.", nameof(ImageColumnName));
            if (string.IsNullOrEmpty(LabelColumnName)) throw new ArgumentException("LabelColumnName must be set.", nameof(LabelColumnName));
            if (Mean is not { Length: 3 } || Std is not { Length: 3 }) throw new ArgumentException("Mean and Std need 3 values (R, G, B).", nameof(Mean));
            if (Std.Any(s => !(s > 0))) throw new ArgumentOutOfRangeException(nameof(Std), "Std values must be positive.");
            if (BackboneWidths is not { Length: 4 } || BackboneWidths.Any(w => w < 2))
                throw new ArgumentException("BackboneWidths must list 4 channel counts ≥ 2.", nameof(BackboneWidths));
            if (DecoderChannels < 2) throw new ArgumentOutOfRangeException(nameof(DecoderChannels), DecoderChannels, "DecoderChannels must be ≥ 2.");
            if (DropoutRatio >= 1) throw new ArgumentOutOfRangeException(nameof(DropoutRatio), DropoutRatio, "DropoutRatio must be < 1.");
            if (EdgeBorder < 0) throw new ArgumentOutOfRangeException(nameof(EdgeBorder), EdgeBorder, "EdgeBorder must be ≥ 0.");
            if (!(HeadLearningRateMultiplier > 0) || double.IsInfinity(HeadLearningRateMultiplier))
                throw new ArgumentOutOfRangeException(nameof(HeadLearningRateMultiplier), HeadLearningRateMultiplier, "HeadLearningRateMultiplier must be a finite value > 0.");
            if (!Enum.IsDefined(Head)) throw new ArgumentOutOfRangeException(nameof(Head), Head, "Head must be Ssa or Plain.");
        }

        internal SsaSegmentationNetworkConfig NetworkConfig =>
            new(new ConvPyramidConfig((int[])BackboneWidths.Clone()), DecoderChannels, Head, DropoutRatio, EdgeBorder);
    }
}

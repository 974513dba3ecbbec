using MLNetExtensions.Core.Data;
using MLNetExtensions.Evaluators.Segmentation;
using MLNetExtensions.Transforms.GeminiFusion;

namespace MLNetExtensions.Estimators.GeminiFusion;

/// <summary><c>mlContext.Segmentation().Trainers.GeminiFusion(...)</c>.</summary>
public static class GeminiFusionSegmenterCatalog
{
    /// <summary>Creates a <see cref="GeminiFusionSegmenter"/> from full options.</summary>
    public static GeminiFusionSegmenter GeminiFusion(this SegmentationCatalog.SegmentationTrainers catalog, GeminiFusionSegmenter.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new GeminiFusionSegmenter(catalog.Context, options);
    }

    /// <summary>Creates an RGB + depth <see cref="GeminiFusionSegmenter"/> with the most used settings.</summary>
    /// <param name="catalog">The segmentation trainers catalog.</param>
    /// <param name="labelColumnName">Per-pixel label map: Vector&lt;Key&gt; of H·W.</param>
    /// <param name="imageColumnName">RGB column: sized MLImage or Vector&lt;Single&gt; 3×H×W in [0,1] (ImageNet-normalised).</param>
    /// <param name="depthColumnName">Depth column: a float map (Vector&lt;Single&gt; H×W or 1×H×W) or, with <paramref name="depthIsImage"/>, an image.</param>
    /// <param name="depthIsImage">Read the depth column as an image (official: a depth PNG /255, tiled to 3 channels).</param>
    /// <param name="backbone">MiT variant: "mit_b0" … "mit_b5", "small"; null = MiT-B0.</param>
    /// <param name="maxEpochs">Passes over the data.</param>
    /// <param name="batchSize">Rows per step.</param>
    /// <param name="learningRate">Peak AdamW learning rate of the encoder; null = the Options default (the decoder at ×10).</param>
    public static GeminiFusionSegmenter GeminiFusion(this SegmentationCatalog.SegmentationTrainers catalog, string labelColumnName = ColumnNames.Mask,
        string imageColumnName = ColumnNames.Image, string depthColumnName = "Depth", bool depthIsImage = false, string? backbone = null,
        int maxEpochs = 10, int batchSize = 8, double? learningRate = null)
    {
        var o = new GeminiFusionSegmenter.Options
        {
            LabelColumnName = labelColumnName,
            Modalities = new[] { new GeminiFusionModality(imageColumnName, ModalityInputKind.RgbImage), new GeminiFusionModality(depthColumnName, depthIsImage ? ModalityInputKind.Image : ModalityInputKind.Map) },
            MaxEpochs = maxEpochs,
            BatchSize = batchSize,
        };
        if (backbone != null) o.Backbone = MitConfig.Named(backbone);
        if (learningRate is double lr) o.LearningRate = lr;
        return catalog.GeminiFusion(o);
    }
}

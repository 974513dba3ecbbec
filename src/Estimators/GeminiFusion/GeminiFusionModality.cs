namespace MLNetExtensions.Estimators.GeminiFusion;

/// <summary>How a modality's column is read.</summary>
public enum ModalityInputKind
{
    /// <summary>An RGB image (MLImage or Vector&lt;Single&gt; C×H×W in [0,1]), ImageNet-normalised (the official RGB stream).</summary>
    RgbImage,
    /// <summary>An image (MLImage or Vector&lt;Single&gt; C×H×W in [0,1]) read as 3 channels without normalisation (the official depth: a PNG /255, tiled to 3 channels).</summary>
    Image,
    /// <summary>A float map (Vector&lt;Single&gt; of H×W or 1×H×W values, used as given) tiled to 3 channels (e.g. a depth map in [0,1]).</summary>
    Map,
}

/// <summary>One input modality of the GeminiFusion segmenter: its column and how it is read.</summary>
/// <param name="ColumnName">Input column.</param>
/// <param name="Kind">How the column is read.</param>
public sealed record GeminiFusionModality(string ColumnName, ModalityInputKind Kind);

using Microsoft.ML;
using MLNetExtensions.Core.Interop;

namespace MLNetExtensions.Transforms.Video;

/// <summary><c>mlContext.Transforms.LoadVideoFrames(...)</c>.</summary>
public static class VideoCatalog
{
    /// <summary>
    /// Decodes the video files named in <paramref name="inputColumnName"/> (text) into clips of
    /// <paramref name="frames"/> uniformly sampled frames resized to <paramref name="height"/>×<paramref name="width"/>:
    /// a <c>Vector&lt;Single, T, 3, H, W&gt;</c> column of RGB values in [0, 1], frame-major, which
    /// <c>mlContext.MulticlassClassification.Trainers.SqueezeTime(...)</c> takes as it is. Decoding is lazy (ffmpeg,
    /// when a row's clip is read); append <c>.AppendCacheCheckpoint(mlContext)</c> before training several epochs.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">Clip column to add.</param>
    /// <param name="inputColumnName">Text column of video paths; null = <paramref name="outputColumnName"/>.</param>
    /// <param name="frames">Frames T per clip (the model's T); 0 = every frame of the video, as a variable-length
    /// <c>Vector&lt;Single&gt;</c> of N·3·H·W values (untrimmed videos for a snippet featuriser).</param>
    /// <param name="height">Frame height H.</param>
    /// <param name="width">Frame width W.</param>
    /// <param name="videoFolder">Folder that relative paths resolve against; null = the current directory.</param>
    /// <param name="parallelDecodes">Clips decoded ahead of the reader at once (ffmpeg processes); 1 = on read, one at a time.
    /// Process start-up dominates for small clips, so 2–4 per core pays off.</param>
    public static VideoFramesEstimator LoadVideoFrames(this TransformsCatalog catalog, string outputColumnName, string? inputColumnName,
        int frames, int height, int width, string? videoFolder = null, int parallelDecodes = 4)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new VideoFramesEstimator(MLNetInternals.GetEnvironment(catalog),
            new VideoFramesColumn(outputColumnName, inputColumnName ?? outputColumnName, frames, height, width, videoFolder, parallelDecodes));
    }
}

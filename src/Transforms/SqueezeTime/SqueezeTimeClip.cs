using MLNetExtensions.Core.Torch;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.SqueezeTime;

/// <summary>Turns decoded clips (T×C×H×W floats in [0, 1], as <c>VideoFrameDecoder</c> returns) into model input.</summary>
public static class SqueezeTimeClip
{
    /// <summary>
    /// Stacks clips into a float32 batch (N, C, T, H, W) — the layout <see cref="SqueezeTimeModel"/> takes — and, when
    /// <paramref name="normalize"/> is set, applies the official normalisation <c>(255·v − mean) / std</c> per colour
    /// (<see cref="SqueezeTimeConfig.PixelMean"/>, <see cref="SqueezeTimeConfig.PixelStd"/>).
    /// </summary>
    /// <param name="clips">Clips, each T·C·H·W values laid out frame, colour, row, column.</param>
    /// <param name="frames">T.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="normalize">Apply the official mean/std normalisation (needs C = 3).</param>
    /// <param name="channels">Colour channels C per frame.</param>
    /// <exception cref="ArgumentException">No clips, or a clip of the wrong length.</exception>
    public static Tensor ToBatch(IReadOnlyList<float[]> clips, int frames, int height, int width, bool normalize = true, int channels = 3)
    {
        ArgumentNullException.ThrowIfNull(clips);
        if (clips.Count == 0) throw new ArgumentException("At least one clip is needed.", nameof(clips));
        if (normalize && channels != SqueezeTimeConfig.PixelMean.Count)
            throw new ArgumentException($"The official normalisation is defined for {SqueezeTimeConfig.PixelMean.Count} channels; got {channels}.", nameof(channels));
        var length = frames * channels * height * width;
        var data = new float[clips.Count * length];
        for (var i = 0; i < clips.Count; i++)
        {
            if (clips[i] is null || clips[i].Length != length)
                throw new ArgumentException($"Clip {i} has {clips[i]?.Length ?? 0} values; a {frames}×{channels}×{height}×{width} clip needs {length}.", nameof(clips));
            clips[i].CopyTo(data, i * length);
        }
        using var scope = NewDisposeScope();
        // (N, T, C, H, W) → (N, C, T, H, W): contiguous, so the model's time squeeze is a plain view.
        var x = tensor(data, new long[] { clips.Count, frames, channels, height, width }).permute(0, 2, 1, 3, 4).contiguous();
        if (normalize)
        {
            var mean = tensor(SqueezeTimeConfig.PixelMean.ToArray()).reshape(1, channels, 1, 1, 1);
            var std = tensor(SqueezeTimeConfig.PixelStd.ToArray()).reshape(1, channels, 1, 1, 1);
            x = (x.Times(255f) - mean) / std;
        }
        return x.MoveToOuterDisposeScope();
    }
}

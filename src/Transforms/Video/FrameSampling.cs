namespace MLNetExtensions.Transforms.Video;

/// <summary>Which frames of a video make a clip.</summary>
public static class FrameSampling
{
    /// <summary>
    /// T frame indices spread uniformly over <paramref name="frameCount"/> frames: the middle frame of each of T equal
    /// segments, <c>⌊(i + ½)·N / T⌋</c> (TSN / mmaction <c>UniformSample</c> test-mode rule). Distinct and increasing
    /// whenever N ≥ T.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">T &lt; 1 or N &lt; T.</exception>
    public static int[] Uniform(long frameCount, int frames)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(frames, 1);
        if (frameCount < frames)
            throw new ArgumentOutOfRangeException(nameof(frameCount), $"Cannot sample {frames} distinct frames from {frameCount}.");
        var idx = new int[frames];
        for (var i = 0; i < frames; i++) idx[i] = (int)((2L * i + 1) * frameCount / (2L * frames));
        return idx;
    }
}

using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.SqueezeTime;

/// <summary>Checks a clip tensor against a <see cref="SqueezeTimeConfig"/> before it reaches the network.</summary>
internal static class SqueezeTimeInput
{
    /// <summary>
    /// Throws <see cref="ArgumentException"/> unless <paramref name="x"/> is (N, C, T, H, W) with the configured C and T,
    /// a floating dtype, a spatial size that survives every downsampling, and N ≥ 2 in training mode.
    /// </summary>
    public static void Validate(Tensor x, SqueezeTimeConfig config, bool training, string paramName)
    {
        if (x.dim() != 5)
            throw new ArgumentException(
                $"SqueezeTime expects a clip tensor of rank 5 (N, C={config.ImageChannels}, T={config.Frames}, H, W); got rank {x.dim()} with shape [{string.Join(", ", x.shape)}].",
                paramName);
        var (n, c, t, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], x.shape[4]);
        if (c != config.ImageChannels)
            throw new ArgumentException(
                $"SqueezeTime expects {config.ImageChannels} colour channels at dim 1 of (N, C, T, H, W); got {c} (shape [{string.Join(", ", x.shape)}]). Frames-first clips must be permuted to NCTHW.",
                paramName);
        if (t != config.Frames)
            throw new ArgumentException(
                $"SqueezeTime was built for T={config.Frames} frames per clip (stem input {config.InputChannels} channels); got T={t} at dim 2 of (N, C, T, H, W).",
                paramName);
        if (!x.is_floating_point())
            throw new ArgumentException($"SqueezeTime expects a floating-point clip tensor; got {x.dtype}.", paramName);
        if (n < 1) throw new ArgumentException("SqueezeTime got an empty batch (N = 0).", paramName);
        if (training && n < 2)
            throw new ArgumentException(
                "SqueezeTime in training mode needs a batch of at least 2 clips: the temporal-importance BatchNorm sees 1×1 maps and cannot normalise a single value per channel.",
                paramName);
        CheckSpatial(h, "height", config, paramName);
        CheckSpatial(w, "width", config, paramName);
    }

    /// <summary>Side of every stage's map for an input side (stem conv s2, max-pool s2, then the stage strides).</summary>
    public static long[] StageSizes(long side, SqueezeTimeConfig config)
    {
        var s = (side - 1) / 2 + 1; // 5×5/s2/p2 stem conv
        s = (s - 1) / 2 + 1;        // 3×3/s2/p1 max-pool
        var sizes = new long[4];
        for (var i = 0; i < 4; i++)
        {
            if (config.SpatialStride[i] == 2) s /= 2; // depthwise 2×2/s2, no padding
            sizes[i] = s;
        }
        return sizes;
    }

    private static void CheckSpatial(long side, string name, SqueezeTimeConfig config, string paramName)
    {
        var s = (side - 1) / 2 + 1;
        s = (s - 1) / 2 + 1;
        for (var i = 0; i < 4; i++)
        {
            if (config.SpatialStride[i] == 2 && s < 2)
                throw new ArgumentException(
                    $"SqueezeTime input {name} {side} is too small: the map is {s} pixel(s) wide at stage {i + 1}, whose 2×2 stride-2 downsample needs at least 2 (use at least {MinSide(config)} pixels).",
                    paramName);
            if (config.SpatialStride[i] == 2) s /= 2;
        }
    }

    /// <summary>Smallest input side that keeps every stage's map non-empty.</summary>
    public static long MinSide(SqueezeTimeConfig config)
    {
        long side = 1;
        while (!Survives(side, config)) side++;
        return side;
    }

    private static bool Survives(long side, SqueezeTimeConfig config)
    {
        var s = (side - 1) / 2 + 1;
        s = (s - 1) / 2 + 1;
        for (var i = 0; i < 4; i++)
        {
            if (config.SpatialStride[i] == 2)
            {
                if (s < 2) return false;
                s /= 2;
            }
        }
        return true;
    }
}

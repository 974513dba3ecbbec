using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Ssa;

/// <summary>Small synthetic label maps and features for SSA tests.</summary>
internal static class SsaTestData
{
    /// <summary>B×H×W int64 labels: background 0, a few rectangles of classes 1..K-1, an ignore patch in image 0.</summary>
    public static Tensor Labels(int b, int h, int w, int k, int seed, bool ignorePatch = true)
    {
        var rng = new Random(seed);
        var y = new long[b * h * w];
        for (int i = 0; i < b; i++)
        {
            for (int r = 0; r < 3; r++)
            {
                int cls = 1 + rng.Next(k - 1);
                int y0 = rng.Next(h / 2), x0 = rng.Next(w / 2);
                int y1 = y0 + h / 4 + rng.Next(h / 4), x1 = x0 + w / 4 + rng.Next(w / 4);
                for (int yy = y0; yy < Math.Min(h, y1); yy++)
                    for (int xx = x0; xx < Math.Min(w, x1); xx++) y[(i * h + yy) * w + xx] = cls;
            }
        }
        if (ignorePatch)
            for (int yy = h - h / 4; yy < h; yy++)
                for (int xx = 0; xx < w / 4; xx++) y[yy * w + xx] = 255;
        return torch.tensor(y, new long[] { b, h, w });
    }

    public static Tensor Features(int b, int c, int h, int w, int seed)
    {
        var g = new Generator((ulong)seed);
        return torch.randn(new long[] { b, c, h, w }, generator: g);
    }
}

using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Transforms.Datasets.Video;

/// <summary>
/// The Fashion-MNIST items of one split as 28×28 grey sprites in [0, 1] (the full data set when installed, else the
/// embedded subset), with area downsampling: what the moving-item video generators draw.
/// </summary>
internal sealed class FashionMnistSprites
{
    private readonly float[] _items; // Count × 28 × 28

    /// <summary>Reads <paramref name="split"/> once.</summary>
    public FashionMnistSprites(FashionMnistSplit split, string? fashionMnistDirectory = null)
    {
        var src = FashionMnist.Load(new MLContext(seed: 0), split, directory: fashionMnistDirectory);
        var pixels = new List<float>();
        using (var cursor = src.GetRowCursor(new[] { src.Schema["Pixels"] }))
        {
            var get = cursor.GetGetter<VBuffer<float>>(src.Schema["Pixels"]);
            VBuffer<float> buf = default;
            while (cursor.MoveNext()) { get(ref buf); pixels.AddRange(buf.DenseValues()); Count++; }
        }
        _items = pixels.ToArray();
    }

    /// <summary>Items in the split.</summary>
    public int Count { get; }

    /// <summary>Area (box) resampling of item <paramref name="item"/> from 28×28 to size×size.</summary>
    public float[] Downsample(int item, int size)
    {
        var res = new float[size * size];
        var src = _items.AsSpan(item * 784, 784);
        double scale = 28.0 / size;
        for (int r = 0; r < size; r++)
        for (int q = 0; q < size; q++)
        {
            double y0 = r * scale, y1 = (r + 1) * scale, x0 = q * scale, x1 = (q + 1) * scale;
            double sum = 0;
            for (int yy = (int)y0; yy < Math.Min(28, (int)Math.Ceiling(y1)); yy++)
            {
                double wy = Math.Min(y1, yy + 1) - Math.Max(y0, yy);
                for (int xx = (int)x0; xx < Math.Min(28, (int)Math.Ceiling(x1)); xx++)
                    sum += wy * (Math.Min(x1, xx + 1) - Math.Max(x0, xx)) * src[yy * 28 + xx];
            }
            res[r * size + q] = (float)(sum / (scale * scale));
        }
        return res;
    }
}

namespace MLNetExtensions.Core.Plotting;

/// <summary>Colours for per-pixel class maps (class 0 = background, left uncoloured) and their overlay on an image.</summary>
public static class ClassPalette
{
    /// <summary>K × RGB colours in [0,1]: class 0 black, classes 1 … K−1 spread around the hue circle.</summary>
    public static float[,] Colours(int classes)
    {
        var palette = new float[classes, 3];
        for (int c = 1; c < classes; c++)
        {
            double hue = (c - 1) / (double)Math.Max(1, classes - 1) * 6;
            int k = (int)hue; float f = (float)(hue - k);
            float[] rgb = (k % 6) switch { 0 => new[] { 1, f, 0 }, 1 => new[] { 1 - f, 1, 0 }, 2 => new[] { 0, 1, f }, 3 => new[] { 0, 1 - f, 1 }, 4 => new[] { f, 0, 1 }, _ => new[] { 1, 0, 1 - f } };
            for (int j = 0; j < 3; j++) palette[c, j] = rgb[j];
        }
        return palette;
    }

    /// <summary>The planar RGB image <paramref name="chw"/> with every non-background pixel blended towards its class colour (weight <paramref name="alpha"/>).</summary>
    public static float[] Overlay(float[] chw, IReadOnlyList<int> classes, float[,] palette, float alpha = 0.65f)
    {
        var o = (float[])chw.Clone();
        int plane = classes.Count;
        for (int p = 0; p < plane; p++)
            if (classes[p] != 0)
                for (int j = 0; j < 3; j++) o[j * plane + p] = (1 - alpha) * chw[j * plane + p] + alpha * palette[classes[p], j];
        return o;
    }
}

using Microsoft.ML;
using MLNetExtensions.Transforms.Datasets.Scenes;
using Xunit;

namespace MLNetExtensions.Tests.GeminiFusion;

/// <summary>
/// The note's multimodal scenes (<see cref="FashionSceneOptions.Multimodal"/>): depth = slanted plane + one constant
/// depth per item in paint order (+ small noise), so it separates items from the canvas; the RGB image is ambiguous
/// (item-like background, reduced contrast, noise), so it does not.
/// </summary>
public class MultimodalScenesTests
{
    private static readonly MLContext Ml = new(seed: 1);
    private static FashionScenes Make(FashionSceneOptions o) => FashionScenes.Create(Ml, o with { SourceRows = 500 });

    [Fact]
    public void DepthIsThePlaneOnTheCanvasAndTheNearestItemsOwnConstantDepthElsewhere()
    {
        var noiseless = Make(FashionSceneOptions.Multimodal with { Count = 8, Seed = 5, DepthNoise = 0, MinItems = 3, MaxItems = 5 });
        int occluded = 0;
        for (int s = 0; s < 4; s++)
        {
            var scene = noiseless.Generate(s);
            // Paint order is far to near: later items are nearer.
            for (int i = 1; i < scene.Items.Count; i++) Assert.True(scene.Items[i].Depth <= scene.Items[i - 1].Depth);
            for (int p = 0; p < 64 * 64; p++)
            {
                int y = p / 64, x = p % 64;
                var covering = scene.Items.Where(it => noiseless.Intensity(it, y, x) > noiseless.Options.Threshold).ToList();
                if (covering.Count > 1) occluded++;
                if (covering.Count == 0) { Assert.Equal(0, scene.Classes[p]); Assert.Equal(FashionScenes.BackgroundDepth(y, 64), scene.Depth[p], 6); continue; }
                var last = covering[^1]; // painted last = nearest
                Assert.Equal(last.FashionLabel + 1, scene.Classes[p]);
                Assert.Equal(last.Depth, scene.Depth[p], 6); // one constant depth per item (no bulge)
            }
        }
        Assert.True(occluded > 0, "no occlusion in 4 scenes with 3–5 items");

        // With noise: the same map plus small zero-mean noise of the requested size.
        var noisy = Make(FashionSceneOptions.Multimodal with { Count = 8, Seed = 5, MinItems = 3, MaxItems = 5 });
        var a = noisy.Generate(0).Depth; var b = noiseless.Generate(0).Depth;
        var d = a.Zip(b, (u, v) => (double)u - v).ToArray();
        double mean = d.Average(), sd = Math.Sqrt(d.Select(v => (v - mean) * (v - mean)).Average());
        Assert.InRange(sd, 0.009, 0.011);
        Assert.InRange(mean, -0.001, 0.001);
        Assert.Equal(noisy.Generate(0).Image, noiseless.Generate(0).Image); // depth noise does not touch the RGB image
    }

    /// <summary>Best accuracy of a single threshold on <paramref name="v"/> for item-vs-canvas (either direction).</summary>
    private static double BestThreshold(IReadOnlyList<float> v, IReadOnlyList<bool> item)
    {
        var order = Enumerable.Range(0, v.Count).OrderBy(i => v[i]).ToArray();
        int n = v.Count, items = item.Count(t => t), below = 0, itemsBelow = 0;
        double best = Math.Max(items, n - items) / (double)n;
        foreach (var i in order)
        {
            below++; if (item[i]) itemsBelow++;
            // "item if value ≤ t" or "item if value > t"
            double low = (itemsBelow + (n - below - (items - itemsBelow))) / (double)n;
            best = Math.Max(best, Math.Max(low, 1 - low));
        }
        return best;
    }

    private static (double Depth, double Rgb) Separability(FashionScenes g, int scenes)
    {
        double dAcc = 0, rAcc = 0;
        for (int s = 0; s < scenes; s++)
        {
            var sc = g.Generate(s);
            int plane = sc.Classes.Length;
            var item = sc.Classes.Select(c => c != 0).ToArray();
            // Depth relative to the known plane; RGB as brightness (mean of the channels).
            var rel = Enumerable.Range(0, plane).Select(p => sc.Depth[p] - FashionScenes.BackgroundDepth(p / g.Options.Width, g.Options.Height)).ToArray();
            var lum = Enumerable.Range(0, plane).Select(p => (sc.Image[p] + sc.Image[plane + p] + sc.Image[2 * plane + p]) / 3f).ToArray();
            dAcc += BestThreshold(rel, item);
            rAcc += BestThreshold(lum, item);
        }
        return (dAcc / scenes, rAcc / scenes);
    }

    [Fact]
    public void DepthGivesCleanMasksWhileTheAmbiguousRgbDoesNot()
    {
        var (depth, rgb) = Separability(Make(FashionSceneOptions.Multimodal with { Count = 6, Seed = 2 }), 6);
        var (_, plainRgb) = Separability(Make(new FashionSceneOptions { Count = 6, Seed = 2 }), 6);
        Assert.True(depth > 0.99, $"depth separates items from the canvas with accuracy {depth:F3}");
        Assert.True(rgb < plainRgb - 0.05, $"the ambiguous RGB ({rgb:F3}) should separate clearly worse than the plain scenes' RGB ({plainRgb:F3})");
        Assert.True(rgb < 0.9, $"a brightness threshold still separates the ambiguous RGB with accuracy {rgb:F3}");
    }

    [Fact]
    public void DefaultsAreUnchangedAndNewSettingsAreValidated()
    {
        // The defaults keep the scenes the other components were tuned on (the bulge, no depth noise, full contrast).
        var o = new FashionSceneOptions();
        Assert.Equal(1f, o.ItemContrast); Assert.False(o.BackgroundLikeItems); Assert.Equal(0.05f, o.DepthBulge); Assert.Equal(0f, o.DepthNoise);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new FashionSceneOptions { ItemContrast = 0 }.Validate());
        Assert.Equal(nameof(FashionSceneOptions.ItemContrast), e.ParamName);
        Assert.Equal(nameof(FashionSceneOptions.DepthNoise), Assert.Throws<ArgumentOutOfRangeException>(() => new FashionSceneOptions { DepthNoise = -1 }.Validate()).ParamName);
        Assert.Equal(nameof(FashionSceneOptions.DepthBulge), Assert.Throws<ArgumentOutOfRangeException>(() => new FashionSceneOptions { DepthBulge = 0.5f }.Validate()).ParamName);
        // Deterministic in (seed, index).
        var a = Make(FashionSceneOptions.Multimodal with { Count = 3, Seed = 8 }); var b = Make(FashionSceneOptions.Multimodal with { Count = 3, Seed = 8 });
        Assert.Equal(a.Generate(2).Image, b.Generate(2).Image);
        Assert.Equal(a.Generate(2).Depth, b.Generate(2).Depth);
    }
}

using MLNetExtensions.Transforms.Datasets;
namespace MLNetExtensions.Transforms.Datasets.Scenes;

/// <summary>
/// Settings of <see cref="FashionScenes"/>: how many canvases, their size, how many Fashion-MNIST items each holds and
/// how they are placed. Every scene is a pure function of (<see cref="Seed"/>, row index, the source images).
/// </summary>
public sealed record FashionSceneOptions
{
    /// <summary>Number of scenes (rows). Default 1000.</summary>
    public int Count { get; init; } = 1000;
    /// <summary>Seed of the scene layouts; scene i depends only on (Seed, i). Default 0.</summary>
    public int Seed { get; init; }
    /// <summary>Canvas height in pixels. Default 64.</summary>
    public int Height { get; init; } = 64;
    /// <summary>Canvas width in pixels. Default 64.</summary>
    public int Width { get; init; } = 64;
    /// <summary>Fewest items per scene. Default 2.</summary>
    public int MinItems { get; init; } = 2;
    /// <summary>Most items per scene. Default 4.</summary>
    public int MaxItems { get; init; } = 4;
    /// <summary>Smallest item side in pixels (the 28×28 source is resampled to this square). Default 20.</summary>
    public int MinItemSize { get; init; } = 20;
    /// <summary>Largest item side in pixels. Default 40.</summary>
    public int MaxItemSize { get; init; } = 40;
    /// <summary>Largest fraction of an item's side that may lie outside the canvas. Default 0.25.</summary>
    public double MaxOutside { get; init; } = 0.25;
    /// <summary>
    /// An item covers a pixel where its resampled intensity (in [0,1]) is strictly above this value; the ground truth
    /// is exactly that set (nearest item wins). Default 0.2.
    /// </summary>
    public float Threshold { get; init; } = 0.2f;
    /// <summary>Probability of a horizontal flip per item. Default 0.5.</summary>
    public double FlipProbability { get; init; } = 0.5;
    /// <summary>Standard deviation of the Gaussian pixel noise added to the image (0 = none). Default 0.03.</summary>
    public float Noise { get; init; } = 0.03f;
    /// <summary>
    /// Opacity scale of the items in the RGB image, in (0, 1]: a pixel moves at most this fraction of the way from the
    /// canvas to the item's tint (below 1 the contrast of every item edge is reduced; the labels are unchanged). Default 1.
    /// </summary>
    public float ItemContrast { get; init; } = 1f;
    /// <summary>
    /// Paint the RGB background in the items' own tint range with a blotchy texture instead of a dark gradient, so that
    /// colour no longer separates items from the canvas. Default false.
    /// </summary>
    public bool BackgroundLikeItems { get; init; }
    /// <summary>How far the brightest part of an item bulges towards the camera in the depth map (0 = one constant depth per item). Default 0.05.</summary>
    public float DepthBulge { get; init; } = 0.05f;
    /// <summary>Standard deviation of the Gaussian noise added to the depth map (0 = none). Default 0.</summary>
    public float DepthNoise { get; init; }

    /// <summary>
    /// The GeminiFusion note's multimodal scenes (shared/methods/geminifusion.md §6): depth is the slanted background
    /// plane plus one constant depth per item in paint order, with small noise (clean masks, no class); the RGB image is
    /// made ambiguous by a background in the items' tint range, reduced item contrast and stronger noise (class
    /// evidence, unclear boundaries). Sizes and counts stay at the defaults; set them with <c>with</c>.
    /// </summary>
    public static FashionSceneOptions Multimodal { get; } = new()
    {
        ItemContrast = 0.4f, BackgroundLikeItems = true, Noise = 0.08f, DepthBulge = 0f, DepthNoise = 0.01f,
    };

    /// <summary>Which Fashion-MNIST split the items come from (use Test for held-out scenes). Default Train.</summary>
    public FashionMnistSplit Split { get; init; } = FashionMnistSplit.Train;
    /// <summary>Use only the first N source images of the split (null = all). Default null.</summary>
    public int? SourceRows { get; init; }
    /// <summary>Skip the first N source images of the split before taking items (with <see cref="SourceRows"/>, the
    /// rows taken are N … N+SourceRows−1). Lets a validation set draw items that training scenes never see, e.g.
    /// training on rows [0, 50000) and validating on rows from 50000. Default 0.</summary>
    public int SkipSourceRows { get; init; }
    /// <summary>Folder with the Fashion-MNIST IDX files (null = <see cref="FashionMnist"/>'s lookup). Default null.</summary>
    public string? FashionMnistDirectory { get; init; }

    /// <summary>Throws naming the first invalid setting.</summary>
    public void Validate()
    {
        if (Count < 0) throw new ArgumentOutOfRangeException(nameof(Count), Count, "Count must be ≥ 0.");
        if (Height < 8 || Width < 8) throw new ArgumentOutOfRangeException(nameof(Height), $"The canvas must be at least 8×8; got {Width}×{Height}.");
        if (MinItems < 0 || MaxItems < MinItems) throw new ArgumentOutOfRangeException(nameof(MinItems), $"Need 0 ≤ MinItems ≤ MaxItems; got {MinItems}, {MaxItems}.");
        if (MinItemSize < 4 || MaxItemSize < MinItemSize)
            throw new ArgumentOutOfRangeException(nameof(MinItemSize), $"Need 4 ≤ MinItemSize ≤ MaxItemSize; got {MinItemSize}, {MaxItemSize}.");
        if (MaxOutside < 0 || MaxOutside >= 1) throw new ArgumentOutOfRangeException(nameof(MaxOutside), MaxOutside, "MaxOutside must be in [0, 1).");
        if (!(Threshold >= 0 && Threshold < 1)) throw new ArgumentOutOfRangeException(nameof(Threshold), Threshold, "Threshold must be in [0, 1).");
        if (FlipProbability < 0 || FlipProbability > 1) throw new ArgumentOutOfRangeException(nameof(FlipProbability), FlipProbability, "FlipProbability must be in [0, 1].");
        if (!(Noise >= 0)) throw new ArgumentOutOfRangeException(nameof(Noise), Noise, "Noise must be ≥ 0.");
        if (!(ItemContrast > 0 && ItemContrast <= 1)) throw new ArgumentOutOfRangeException(nameof(ItemContrast), ItemContrast, "ItemContrast must be in (0, 1].");
        if (!(DepthBulge >= 0 && DepthBulge < 0.2f)) throw new ArgumentOutOfRangeException(nameof(DepthBulge), DepthBulge, "DepthBulge must be in [0, 0.2).");
        if (!(DepthNoise >= 0)) throw new ArgumentOutOfRangeException(nameof(DepthNoise), DepthNoise, "DepthNoise must be ≥ 0.");
        if (SkipSourceRows < 0) throw new ArgumentOutOfRangeException(nameof(SkipSourceRows), SkipSourceRows, "SkipSourceRows must be ≥ 0.");
        if (SourceRows is < 1) throw new ArgumentOutOfRangeException(nameof(SourceRows), SourceRows, "SourceRows must be ≥ 1 or null.");
    }
}

/// <summary>One placed item of a scene (painted far to near).</summary>
/// <param name="SourceIndex">Row among the source images taken (the split's row minus <see cref="FashionSceneOptions.SkipSourceRows"/>).</param>
/// <param name="FashionLabel">Fashion-MNIST class 0–9 (scene class = label + 1).</param>
/// <param name="Top">Row of the item's top-left corner (may be negative).</param>
/// <param name="Left">Column of the item's top-left corner (may be negative).</param>
/// <param name="Size">Side of the resampled square.</param>
/// <param name="Flipped">Mirrored horizontally.</param>
/// <param name="Depth">Distance of the item plane, in (0, 1); smaller is nearer.</param>
/// <param name="Tint">RGB colour the item's intensity modulates.</param>
public sealed record SceneItem(int SourceIndex, int FashionLabel, int Top, int Left, int Size, bool Flipped, float Depth, float[] Tint);

/// <summary>A rendered scene.</summary>
/// <param name="Image">RGB planar 3×H×W in [0, 1].</param>
/// <param name="Classes">Per pixel (row-major H×W): 0 = background, k+1 = Fashion-MNIST class k.</param>
/// <param name="Depth">Per pixel distance in (0, 1]; background is a receding floor plane.</param>
/// <param name="Items">The items, in painting order (far to near).</param>
public sealed record Scene(float[] Image, byte[] Classes, float[] Depth, IReadOnlyList<SceneItem> Items);

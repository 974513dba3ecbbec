using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.VisionLanguage;

/// <summary>
/// The note's small frozen "vision tower" (Align-KD §5.2, the stand-in for CLIP): conv 5×5 (1→16) + ReLU + max-pool 2,
/// conv 3×3 (16→32) + ReLU, adaptive average pool to 4×4 — a 4×4×32 grid per 28×28 item. <see cref="Classify"/> adds
/// the pre-training head (mean-pool + Linear → 10 classes); the VLM uses <see cref="Grid"/> and <see cref="SceneGrid"/>.
/// </summary>
public sealed class ConvVisionTower : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv1;
    private readonly Conv2d conv2;
    private readonly Linear head;

    /// <summary>Channels of the output grid.</summary>
    public const int Channels = 32;
    /// <summary>Grid side per 28×28 item.</summary>
    public const int GridSide = 4;

    /// <summary>Creates the tower (PyTorch default initialisation).</summary>
    public ConvVisionTower(int classes = 10) : base(nameof(ConvVisionTower))
    {
        conv1 = nn.Conv2d(1, 16, 5, padding: 2);
        conv2 = nn.Conv2d(16, Channels, 3, padding: 1);
        head = nn.Linear(Channels, classes);
        RegisterComponents();
    }

    /// <summary>Grid features (N, 32, 4, 4) of items (N, 1, 28, 28).</summary>
    public Tensor Grid(Tensor items)
    {
        if (items.dim() != 4 || items.shape[1] != 1 || items.shape[2] != 28 || items.shape[3] != 28)
            throw new ArgumentException($"ConvVisionTower: items must be (N, 1, 28, 28), got ({string.Join(", ", items.shape)}).");
        using var scope = NewDisposeScope();
        var x = nn.functional.max_pool2d(nn.functional.relu(conv1.call(items)), 2);
        x = nn.functional.relu(conv2.call(x));
        return nn.functional.adaptive_avg_pool2d(x, new long[] { GridSide, GridSide }).MoveToOuterDisposeScope();
    }

    /// <summary>Class logits (N, classes) of items (N, 1, 28, 28): the pre-training objective.</summary>
    public Tensor Classify(Tensor items)
    {
        using var scope = NewDisposeScope();
        return head.call(Grid(items).mean(new long[] { 2, 3 })).MoveToOuterDisposeScope();
    }

    /// <inheritdoc cref="Classify"/>
    public override Tensor forward(Tensor items) => Classify(items);

    /// <summary>
    /// Scene grid (B, 32, 8, 8) of 2×2 scenes (B, 1, 56, 56): each quadrant goes through the tower alone and the four
    /// 4×4 grids are tiled, so a scene's features equal the tiling of its items' precomputed grids.
    /// </summary>
    public Tensor SceneGrid(Tensor scenes)
    {
        if (scenes.dim() != 4 || scenes.shape[1] != 1 || scenes.shape[2] != 56 || scenes.shape[3] != 56)
            throw new ArgumentException($"ConvVisionTower: scenes must be (B, 1, 56, 56), got ({string.Join(", ", scenes.shape)}).");
        using var scope = NewDisposeScope();
        long b = scenes.shape[0];
        var items = scenes.reshape(b, 1, 2, 28, 2, 28).permute(0, 2, 4, 1, 3, 5).reshape(b * 4, 1, 28, 28);
        return TileQuadrants(Grid(items).reshape(b, 4, Channels, GridSide, GridSide)).MoveToOuterDisposeScope();
    }

    /// <summary>Tiles per-quadrant grids (B, 4, C, g, g) in TL, TR, BL, BR order into (B, C, 2g, 2g).</summary>
    public static Tensor TileQuadrants(Tensor quadrants)
    {
        long b = quadrants.shape[0], c = quadrants.shape[2], g = quadrants.shape[3];
        return quadrants.reshape(b, 2, 2, c, g, g).permute(0, 3, 1, 4, 2, 5).reshape(b, c, 2 * g, 2 * g);
    }
}

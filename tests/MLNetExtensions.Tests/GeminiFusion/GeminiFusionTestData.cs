using MLNetExtensions.Transforms.GeminiFusion;

namespace MLNetExtensions.Tests;

/// <summary>Shared tiny GeminiFusion settings for fast tests.</summary>
public static class GeminiFusionTestData
{
    /// <summary>A two-stage MiT small enough for estimator tests (widths 8/16, one block each, output stride 8).</summary>
    public static MitConfig Micro { get; } = new("micro", [8, 16], [1, 2], [1, 1], [2, 1]) { MlpRatios = [2, 2] };
}

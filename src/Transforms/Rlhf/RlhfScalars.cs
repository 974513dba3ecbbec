using TorchSharp;

namespace MLNetExtensions.Transforms.Rlhf;

/// <summary>Scalars held for the process, so the RLHF hot paths pass no temporary <see cref="Scalar"/> to LibTorch (TorchSharp 0.107).</summary>
internal static class RlhfScalars
{
    public static readonly Scalar Zero = 0L;
    public static readonly Scalar One = 1L;
    public static readonly Scalar FloatOne = 1.0f;
    public static readonly Scalar Tiny = 1e-8f;
}

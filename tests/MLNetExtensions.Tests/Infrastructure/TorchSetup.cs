using System.Runtime.CompilerServices;
using MLNetExtensions.Core.Torch;

namespace MLNetExtensions.Tests.Infrastructure;

/// <summary>
/// Before any test: the same oneDNN convolution check the product runs when a trainer or transformer is created,
/// so module-level tests (parity, layers) compute on the correct convolution path too.
/// </summary>
internal static class TorchSetup
{
    [ModuleInitializer]
    internal static void Apply() => ConvolutionBackend.EnsureCorrect();
}

using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Core;

/// <summary>Guards against the oneDNN float32 convolution fault seen on this hardware (see MLNetExtensions.Core.Torch.ConvolutionBackend).</summary>
public class ConvolutionBackendTests
{
    private static double Error(long[] input, long[] weight, long stride, long padding)
    {
        var x = randn(input);
        var w = randn(weight);
        var f32 = nn.functional.conv2d(x, w, strides: new[] { stride, stride }, padding: new[] { padding, padding });
        var f64 = nn.functional.conv2d(x.to(float64), w.to(float64), strides: new[] { stride, stride }, padding: new[] { padding, padding });
        return (f32.to(float64) - f64).abs().max().item<double>();
    }

    [Fact]
    public void Float32ConvolutionsMatchFloat64Reference()
    {
        MLNetExtensions.Core.Torch.ConvolutionBackend.EnsureCorrect();
        Assert.Null(MLNetExtensions.Core.Torch.ConvolutionBackend.Failure);
        using var scope = NewDisposeScope();
        manual_seed(0);
        // Shapes that oneDNN got wrong on AVX-512 EPYC: the fixture's stem (24→8, 5×5/s2) and the CTL 3×3 convs on a 10×5 map.
        var errors = new[]
        {
            ("stem 5×5/s2", Error(new long[] { 2, 24, 64, 64 }, new long[] { 8, 24, 5, 5 }, 2, 2)),
            ("3×3 on 10×5", Error(new long[] { 2, 12, 10, 5 }, new long[] { 10, 12, 3, 3 }, 1, 1)),
            ("7×7 on 10×5", Error(new long[] { 2, 16, 10, 5 }, new long[] { 16, 16, 7, 7 }, 1, 3)),
        };
        foreach (var (what, err) in errors)
            Assert.True(err < 1e-3,
                $"float32 conv2d ({what}) is off by {err:E2} against float64 with oneDNN {(MLNetExtensions.Core.Torch.ConvolutionBackend.OneDnnEnabled == true ? "enabled" : "disabled")}.");
    }
}

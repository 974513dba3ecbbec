using MLNetExtensions.Core.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Layers;

/// <summary>Weight initialisers used by the official code.</summary>
public static class LayerInit
{
    /// <summary>
    /// timm <c>trunc_normal_</c>: N(mean, std²) truncated to [a, b] (absolute bounds), by inverse-CDF sampling.
    /// (Used instead of <c>nn.init.trunc_normal_</c>, which produced near-zero values in TorchSharp 0.107 here.)
    /// </summary>
    public static Tensor TruncNormal_(Tensor tensor, double mean = 0.0, double std = 1.0, double a = -2.0, double b = 2.0)
    {
        static double Cdf(double x) => (1.0 + Erf(x / Math.Sqrt(2.0))) / 2.0;
        double l = Cdf((a - mean) / std), u = Cdf((b - mean) / std);
        using var _ = torch.no_grad();
        tensor.uniform_(2 * l - 1, 2 * u - 1);
        tensor.erfinv_();
        tensor.TimesInPlace(std * Math.Sqrt(2.0));
        tensor.PlusInPlace(mean);
        tensor.ClampInPlace(a, b);
        return tensor;
    }

    // erf(x) = 1 − erfc(|x|) with the Numerical Recipes erfc approximation (|error| < 1.2e-7); the bounds only set
    // the truncated mass, so this accuracy is ample (.NET has no Math.Erf).
    private static double Erf(double x)
    {
        double t = 1.0 / (1.0 + 0.5 * Math.Abs(x));
        double y = 1 - t * Math.Exp(-x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
            t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? y : -y;
    }
}

using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Torch;

/// <summary>
/// The Adam moment update and parameter step shared by <see cref="RootedAdam"/> and <see cref="RootedAdamW"/> (they
/// differ only in where the weight decay goes), in TorchSharp's (= PyTorch's) order, with every Scalar created once per
/// parameter group and kept alive until LibTorch returns.
/// </summary>
internal sealed class RootedAdamUpdate : IDisposable
{
    private readonly double _beta1, _beta2, _lr;
    private readonly Scalar _b1, _b2, _oneMinusB1, _oneMinusB2, _eps;

    public RootedAdamUpdate(double beta1, double beta2, double eps, double lr)
    {
        (_beta1, _beta2, _lr) = (beta1, beta2, lr);
        _b1 = beta1.ToScalar(); _b2 = beta2.ToScalar();
        _oneMinusB1 = (1 - beta1).ToScalar(); _oneMinusB2 = (1 - beta2).ToScalar();
        _eps = eps.ToScalar();
    }

    /// <summary>m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², p ← p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε).</summary>
    public void Apply(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, long step)
    {
        double bc1 = 1 - Math.Pow(_beta1, step), bc2 = 1 - Math.Pow(_beta2, step);
        expAvg.mul_(_b1).add_(grad, _oneMinusB1);
        expAvgSq.mul_(_b2).addcmul_(grad, grad, _oneMinusB2);
        using var sqrtBc2 = Math.Sqrt(bc2).ToScalar();
        using var stepSize = (-_lr / bc1).ToScalar();
        using var denom = expAvgSq.sqrt().div_(sqrtBc2).add_(_eps, ScalarOps.One);
        param.addcdiv_(expAvg, denom, stepSize);
    }

    public void Dispose()
    {
        _b1.Dispose(); _b2.Dispose(); _oneMinusB1.Dispose(); _oneMinusB2.Dispose(); _eps.Dispose();
    }
}

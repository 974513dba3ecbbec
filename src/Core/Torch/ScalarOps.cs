using MLNetExtensions.Core.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Torch;

/// <summary>
/// Tensor arithmetic with scalars that stay alive until LibTorch has returned. TorchSharp 0.107 turns every .NET number
/// into a temporary <see cref="Scalar"/> (a native handle with a finaliser) and passes only the handle on, so a GC
/// started by another thread can finalise the Scalar while the native call still reads it ("toFloat at Scalar.h:140",
/// "Unknown scalar type"). Even <c>a + b</c> on two tensors makes one (<c>add(target)</c> calls <c>add(target, 1)</c>).
/// Every such call in this project goes through here: constants are static fields (rooted for the process), other
/// values live in a <c>using</c> local until after the call. <c>tests/.../Core/ScalarAuditTests</c> lists, from IL,
/// every call that still creates an unrooted Scalar and fails when one appears; docs/scalar-audit.md explains the rule.
/// </summary>
public static class ScalarOps
{
    /// <summary>1 (the <c>alpha</c> of add/sub), rooted for the process.</summary>
    public static readonly Scalar One = 1L;

    /// <summary>a + b (tensors).</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);
    /// <summary>a + alpha·b, alpha rooted.</summary>
    public static Tensor Plus(this Tensor a, Tensor b, double alpha) { using var s = alpha.ToScalar(); return a.add(b, s); }
    /// <summary>In place a += b.</summary>
    public static Tensor PlusInPlace(this Tensor a, Tensor b) => a.add_(b, One);
    /// <summary>In place a += alpha·b.</summary>
    public static Tensor PlusInPlace(this Tensor a, Tensor b, double alpha) { using var s = alpha.ToScalar(); return a.add_(b, s); }

    /// <summary>a + v.</summary>
    public static Tensor Plus(this Tensor a, double v) { using var s = v.ToScalar(); return a.add(s, One); }
    /// <summary>a − v.</summary>
    public static Tensor Minus(this Tensor a, double v) { using var s = v.ToScalar(); return a.sub(s); }
    /// <summary>v − a.</summary>
    public static Tensor SubtractedFrom(this Tensor a, double v) { using var s = v.ToScalar(); return a.neg().add_(s, One); }
    /// <summary>a · v.</summary>
    public static Tensor Times(this Tensor a, double v) { using var s = v.ToScalar(); return a.mul(s); }
    /// <summary>a / v.</summary>
    public static Tensor Over(this Tensor a, double v) { using var s = v.ToScalar(); return a.div(s); }
    /// <summary>In place a += v.</summary>
    public static Tensor PlusInPlace(this Tensor a, double v) { using var s = v.ToScalar(); return a.add_(s, One); }

    // Integer forms: an int64 tensor stays int64 (a double Scalar would promote it, and fail in place), and an integer
    // literal keeps the integer Scalar that TorchSharp's own operators would have made.
    /// <summary>a + v (integer v).</summary>
    public static Tensor Plus(this Tensor a, long v) { using var s = v.ToScalar(); return a.add(s, One); }
    /// <summary>a · v (integer v).</summary>
    public static Tensor Times(this Tensor a, long v) { using var s = v.ToScalar(); return a.mul(s); }
    /// <summary>In place a += v (integer v; a counter's decrement is <c>PlusInPlace(-1L)</c>).</summary>
    public static Tensor PlusInPlace(this Tensor a, long v) { using var s = v.ToScalar(); return a.add_(s, One); }
    /// <summary>In place fill with integer v.</summary>
    public static Tensor FillInPlace(this Tensor a, long v) { using var s = v.ToScalar(); return a.fill_(s); }
    /// <summary>In place a mod v (integer v).</summary>
    public static Tensor RemainderInPlace(this Tensor a, long v) { using var s = v.ToScalar(); return a.remainder_(s); }
    /// <summary>In place a ·= v.</summary>
    public static Tensor TimesInPlace(this Tensor a, double v) { using var s = v.ToScalar(); return a.mul_(s); }
    /// <summary>In place a /= v.</summary>
    public static Tensor OverInPlace(this Tensor a, double v) { using var s = v.ToScalar(); return a.div_(s); }
    /// <summary>aᵖ.</summary>
    public static Tensor Power(this Tensor a, double p) { using var s = p.ToScalar(); return a.pow(s); }
    /// <summary>max(a, lo).</summary>
    public static Tensor ClampMin(this Tensor a, double lo) { using var s = lo.ToScalar(); return a.clamp_min(s); }
    /// <summary>min(a, hi).</summary>
    public static Tensor ClampMax(this Tensor a, double hi) { using var s = hi.ToScalar(); return a.clamp_max(s); }
    /// <summary>clamp(a, lo, hi).</summary>
    public static Tensor Clamp(this Tensor a, double lo, double hi) { using var l = lo.ToScalar(); using var h = hi.ToScalar(); return a.clamp(l, h); }
    /// <summary>In place clamp(a, lo, hi).</summary>
    public static Tensor ClampInPlace(this Tensor a, double lo, double hi) { using var l = lo.ToScalar(); using var h = hi.ToScalar(); return a.clamp_(l, h); }
    /// <summary>a where mask is false, v where true.</summary>
    public static Tensor MaskedFill(this Tensor a, Tensor mask, double v) { using var s = v.ToScalar(); return a.masked_fill(mask, s); }
    /// <summary>In place masked fill.</summary>
    public static Tensor MaskedFillInPlace(this Tensor a, Tensor mask, double v) { using var s = v.ToScalar(); return a.masked_fill_(mask, s); }
    /// <summary>In place fill with v.</summary>
    public static Tensor FillInPlace(this Tensor a, double v) { using var s = v.ToScalar(); return a.fill_(s); }
    /// <summary>a == v.</summary>
    public static Tensor EqualTo(this Tensor a, double v) { using var s = v.ToScalar(); return a.eq(s); }
    /// <summary>a != v.</summary>
    public static Tensor NotEqualTo(this Tensor a, double v) { using var s = v.ToScalar(); return a.ne(s); }
    /// <summary>a &gt; v.</summary>
    public static Tensor GreaterThan(this Tensor a, double v) { using var s = v.ToScalar(); return a.gt(s); }
    /// <summary>a &gt;= v.</summary>
    public static Tensor AtLeast(this Tensor a, double v) { using var s = v.ToScalar(); return a.ge(s); }
    /// <summary>a &lt; v.</summary>
    public static Tensor LessThan(this Tensor a, double v) { using var s = v.ToScalar(); return a.lt(s); }
    /// <summary>a &lt;= v.</summary>
    public static Tensor AtMost(this Tensor a, double v) { using var s = v.ToScalar(); return a.le(s); }
    /// <summary>where(cond, a, v).</summary>
    public static Tensor WhereOr(this Tensor cond, Tensor a, double v) { using var s = v.ToScalar(); return torch.where(cond, a, s); }
    /// <summary>
    /// softplus(x) = log(1 + e^{βx})/β, x itself where βx &gt; threshold (PyTorch's definition). TorchSharp's
    /// <c>softplus</c> converts β and the threshold to temporaries inside (no Scalar overload is public), so it is
    /// composed here: log1p(e^{−|βx|}) + relu(βx) equals log(1 + e^{βx}) without overflow (and without a NaN gradient
    /// from the discarded branch of the where).
    /// </summary>
    public static Tensor Softplus(this Tensor x, double beta = 1, double threshold = 20)
    {
        using var scope = NewDisposeScope();
        var bx = beta == 1 ? x : x.Times(beta);
        var soft = bx.abs().neg().exp().log1p().Plus(bx.relu());
        if (beta != 1) soft = soft.Over(beta);
        return torch.where(bx.GreaterThan(threshold), x, soft).MoveToOuterDisposeScope();
    }
    /// <summary>x² as x·x: TorchSharp's <c>square()</c> is <c>pow(2)</c> with a temporary Scalar; ATen computes pow(x, 2)
    /// as x·x, so values and gradients are the same.</summary>
    public static Tensor Squared(this Tensor x) => x.mul(x);
    /// <summary>leaky_relu(x, slope).</summary>
    public static Tensor LeakyRelu(this Tensor x, double slope = 0.01) { using var s = slope.ToScalar(); return x.leaky_relu(s); }
    /// <summary>‖x‖_p along one dimension (TorchSharp's <c>linalg.vector_norm</c> makes its <c>ord</c> a temporary).</summary>
    public static Tensor VectorNorm(this Tensor x, double p, long dim, bool keepdim = false) => x.norm((int)dim, keepdim, (float)p);
    /// <summary>torch.arange(end) with rooted bounds.</summary>
    public static Tensor Arange(long end, ScalarType? dtype = null, Device? device = null)
    {
        using var z = 0L.ToScalar(); using var e = end.ToScalar();
        return torch.arange(z, e, One, dtype, device);
    }
    /// <summary>torch.arange(start, end, step) with rooted bounds.</summary>
    public static Tensor Arange(double start, double end, double step, ScalarType? dtype = null, Device? device = null)
    {
        using var a = start.ToScalar(); using var e = end.ToScalar(); using var s = step.ToScalar();
        return torch.arange(a, e, s, dtype, device);
    }
    /// <summary>torch.full(shape, v).</summary>
    public static Tensor Full(long[] shape, double v, ScalarType? dtype = null, Device? device = null)
    {
        using var s = v.ToScalar();
        return torch.full(shape, s, dtype, device);
    }
}

using MLNetExtensions.Transforms.TinyViM;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.TinyViM;

/// <summary>Chunked vs sequential selective scan, and both against a naive scalar loop.</summary>
public sealed class SelectiveScanTests
{
    private readonly ITestOutputHelper _out;
    public SelectiveScanTests(ITestOutputHelper output) => _out = output;

    private static (Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor D, Tensor bias) Random(
        long batch, long groups, long perGroup, long n, long l, bool steep, ScalarType dtype = ScalarType.Float32)
    {
        var ch = groups * perGroup;
        var u = torch.randn(batch, ch, l, dtype: dtype);
        // Steep: Δ ~ softplus(N(0,1)) up to ~4 and |A| up to 8 → per-step decay exponents up to ~30, which forces the
        // chunked scan to shrink its chunks; mild: TinyViM-like Δ ≈ 0.05.
        var delta = steep ? torch.randn(batch, ch, l, dtype: dtype) : torch.randn(batch, ch, l, dtype: dtype) * 0.5 - 3;
        var A = -(torch.rand(ch, n, dtype: dtype) * 8 + 0.1);
        var B = torch.randn(batch, groups, n, l, dtype: dtype);
        var C = torch.randn(batch, groups, n, l, dtype: dtype);
        var D = torch.rand(ch, dtype: dtype) + 0.5;
        var bias = torch.rand(ch, dtype: dtype) - 0.5;
        return (u, delta, A, B, C, D, bias);
    }

    /// <summary>Scalar triple loop straight from the recurrence (independent of both implementations).</summary>
    private static float[] Naive(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor D, Tensor bias)
    {
        var (bt, ch, l) = ((int)u.shape[0], (int)u.shape[1], (int)u.shape[2]);
        var (g, n) = ((int)B.shape[1], (int)A.shape[1]);
        var uu = u.data<float>().ToArray(); var dd = delta.data<float>().ToArray();
        var aa = A.data<float>().ToArray(); var bb = B.data<float>().ToArray(); var cc = C.data<float>().ToArray();
        var dsk = D.data<float>().ToArray(); var bi = bias.data<float>().ToArray();
        var y = new float[bt * ch * l];
        for (var b = 0; b < bt; b++)
        for (var d = 0; d < ch; d++)
        {
            var grp = d / (ch / g);
            var h = new double[n];
            for (var t = 0; t < l; t++)
            {
                var z = dd[(b * ch + d) * l + t] + (double)bi[d];
                var dt = z > 20 ? z : Math.Log(1 + Math.Exp(z));
                var x = uu[(b * ch + d) * l + t];
                double acc = 0;
                for (var k = 0; k < n; k++)
                {
                    var idx = ((b * g + grp) * n + k) * l + t;
                    h[k] = Math.Exp(dt * aa[d * n + k]) * h[k] + dt * bb[idx] * x;
                    acc += cc[idx] * h[k];
                }
                y[(b * ch + d) * l + t] = (float)(acc + dsk[d] * x);
            }
        }
        return y;
    }

    [Fact]
    public void BothImplementations_MatchNaiveLoop_WithGroupsAndPadding()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(1);
        var (u, delta, A, B, C, D, bias) = Random(2, 4, 3, 8, 13, steep: false);
        var expected = torch.tensor(Naive(u, delta, A, B, C, D, bias), u.shape);
        var seq = SelectiveScan.Sequential(u, delta, A, B, C, D, bias);
        var chk = SelectiveScan.Chunked(u, delta, A, B, C, D, bias, chunkSize: 4); // 13 = 3 full chunks + padded one
        var e1 = (seq - expected).abs().max().item<float>();
        var e2 = (chk - expected).abs().max().item<float>();
        _out.WriteLine($"vs naive: sequential {e1:E2}, chunked {e2:E2}");
        Assert.True(e1 < 1e-5, $"sequential vs naive {e1}");
        Assert.True(e2 < 1e-5, $"chunked vs naive {e2}");
    }

    [Theory]
    [InlineData(1, 2048, false, 8)]
    [InlineData(1, 2048, false, 32)]
    [InlineData(2, 300, true, 16)]
    [InlineData(3, 1, false, 8)]
    [InlineData(2, 49, true, 64)]
    public void Chunked_EqualsSequential(int batch, int length, bool steep, int chunk)
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(length + batch);
        var (u, delta, A, B, C, D, bias) = Random(batch, 4, 6, 8, length, steep);
        var seq = SelectiveScan.Sequential(u, delta, A, B, C, D, bias);
        var chk = SelectiveScan.Chunked(u, delta, A, B, C, D, bias, chunkSize: chunk);
        Assert.False(chk.isnan().any().item<bool>(), "chunked scan produced NaN");
        var scale = seq.abs().max().item<float>();
        var err = (seq - chk).abs().max().item<float>();
        _out.WriteLine($"L={length} steep={steep} T={chunk}: max abs diff {err:E2} (max |y| {scale:F2})");
        Assert.True(err <= 1e-4 * Math.Max(1, scale), $"chunked vs sequential {err}");
    }

    [Fact]
    public void Gradients_AgreeBetweenImplementations()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(7);
        var (u0, delta0, A0, B0, C0, D0, bias0) = Random(2, 4, 2, 8, 37, steep: false, dtype: ScalarType.Float64);
        Tensor[] Grads(bool chunked)
        {
            var ins = new[] { u0, delta0, A0, B0, C0, D0, bias0 }.Select(t => t.detach().clone().requires_grad_(true)).ToArray();
            var y = chunked
                ? SelectiveScan.Chunked(ins[0], ins[1], ins[2], ins[3], ins[4], ins[5], ins[6], chunkSize: 8)
                : SelectiveScan.Sequential(ins[0], ins[1], ins[2], ins[3], ins[4], ins[5], ins[6]);
            (y * y).sum().backward();
            return ins.Select(t => t.grad!).ToArray();
        }
        var gs = Grads(false);
        var gc = Grads(true);
        for (var i = 0; i < gs.Length; i++)
            Assert.True(gs[i].allclose(gc[i], rtol: 1e-7, atol: 1e-9), $"gradient {i} differs");

        // Finite-difference check of dL/dΔ at one entry (float64).
        var (eps, idx) = (1e-6, new long[] { 1, 3, 20 });
        double Loss(Tensor d) { var y = SelectiveScan.Chunked(u0, d, A0, B0, C0, D0, bias0, chunkSize: 8); return (y * y).sum().item<double>(); }
        var plus = delta0.clone(); plus[idx[0], idx[1], idx[2]] += eps;
        var minus = delta0.clone(); minus[idx[0], idx[1], idx[2]] -= eps;
        var fd = (Loss(plus) - Loss(minus)) / (2 * eps);
        var an = gc[1][idx[0], idx[1], idx[2]].item<double>();
        Assert.True(Math.Abs(fd - an) <= 1e-5 * Math.Max(1, Math.Abs(fd)), $"finite difference {fd} vs autograd {an}");
    }

    [Fact]
    public void BadShapes_Throw()
    {
        using var scope = torch.NewDisposeScope();
        var (u, delta, A, B, C, D, bias) = Random(1, 2, 2, 4, 5, steep: false);
        var ex = Assert.Throws<ArgumentException>(() => SelectiveScan.Chunked(u, delta, A.narrow(0, 0, 3), B, C));
        Assert.Contains("A must be", ex.Message);
        Assert.Throws<ArgumentException>(() => SelectiveScan.Sequential(u, delta.narrow(2, 0, 4), A, B, C));
        Assert.Throws<ArgumentException>(() => SelectiveScan.Sequential(u, delta, A, B.narrow(3, 0, 4), C));
        Assert.Throws<ArgumentOutOfRangeException>(() => SelectiveScan.Chunked(u, delta, A, B, C, chunkSize: 0));
    }
}

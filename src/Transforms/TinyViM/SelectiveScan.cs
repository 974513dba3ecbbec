using MLNetExtensions.Core.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.TinyViM;

/// <summary>
/// The Mamba selective scan (what <c>selective_scan_cuda.fwd</c> computes in the official code), without a custom
/// kernel. Two implementations with identical semantics:
/// <see cref="Sequential"/> (plain loop over time, the reference) and <see cref="Chunked"/> (blocked formulation with
/// batched matmuls inside chunks and a parallel prefix across chunks, no per-step loop).
/// </summary>
/// <remarks>
/// Semantics, per channel d (group g = d / (channels / groups)) and state n:
/// Δ = softplus(delta + deltaBias) (when <c>deltaSoftplus</c>);
/// h_t[d,n] = exp(Δ_t[d]·A[d,n])·h_{t−1}[d,n] + Δ_t[d]·B_t[g,n]·u_t[d], h_{−1} = 0;
/// y_t[d] = Σ_n C_t[g,n]·h_t[d,n] + D[d]·u_t[d]. No z-gate (TinyViM never passes one).
/// Layouts (the kernel's): u, delta (batch, channels, L); A (channels, N); B, C (batch, groups, N, L) or
/// (batch, N, L) for one group; D, deltaBias (channels). Computed in float32 (float64 inputs stay float64), as the
/// official wrapper casts to fp32. Both implementations are differentiable through TorchSharp autograd.
/// </remarks>
public static class SelectiveScan
{
    /// <summary>
    /// Largest |exponent| the chunked form lets a factorised decay reach (e^±30); the masked upper triangle of a chunk's
    /// score matrix then stays below e^60 ≈ 1e26, far from float32 overflow, and the decays keep ~1e-6 relative accuracy.
    /// </summary>
    public const double MaxChunkExponent = 30.0;

    /// <summary>Reference implementation: a loop over the L time steps of a (batch, channels, N) state.</summary>
    /// <param name="u">Input sequences (batch, channels, L).</param>
    /// <param name="delta">Step-size pre-activations (batch, channels, L), before bias and softplus.</param>
    /// <param name="A">State matrix diagonal (channels, N), negative.</param>
    /// <param name="B">Input projections (batch, groups, N, L) or (batch, N, L); group g serves a contiguous block of channels.</param>
    /// <param name="C">Output projections, shaped like <paramref name="B"/>.</param>
    /// <param name="D">Skip gains (channels), or null for none.</param>
    /// <param name="deltaBias">Step-size bias (channels), or null.</param>
    /// <param name="deltaSoftplus">Apply softplus to delta + bias (TinyViM: true).</param>
    /// <returns>y with the layout of <paramref name="u"/>: (batch, channels, L).</returns>
    public static Tensor Sequential(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C,
        Tensor? D = null, Tensor? deltaBias = null, bool deltaSoftplus = true)
    {
        using var scope = torch.NewDisposeScope();
        var p = Prepare(u, delta, A, B, C, D, deltaBias, deltaSoftplus);
        var (bt, g, dg, n, l) = (p.Batch, p.Groups, p.PerGroup, p.N, p.L);

        // Time-major, contiguous per-step tensors: slicing a step off the leading axis is a cheap view.
        var dtT = p.Dt.permute(3, 0, 1, 2);                                             // (L, Bt, G, Dg)
        var dA = (dtT.unsqueeze(-1) * p.A.view(1, 1, g, dg, n)).exp().contiguous();      // (L, Bt, G, Dg, N)
        var bT = p.B.permute(3, 0, 1, 2).unsqueeze(3);                                  // (L, Bt, G, 1, N)
        var dBu = ((dtT * p.U.permute(3, 0, 1, 2)).unsqueeze(-1) * bT).contiguous();     // (L, Bt, G, Dg, N)
        var cT = p.C.permute(3, 0, 1, 2).unsqueeze(-1).contiguous();                     // (L, Bt, G, N, 1)

        var h = torch.zeros(new long[] { bt, g, dg, n }, dtype: p.U.dtype, device: p.U.device);
        var ys = new Tensor[l];
        for (var t = 0; t < l; t++)
        {
            h = torch.addcmul(dBu[t], dA[t], h, ScalarOps.One);
            ys[t] = torch.matmul(h, cT[t]);                                              // (Bt, G, Dg, 1)
        }
        var y = torch.stack(ys, 0).squeeze(-1).permute(1, 2, 3, 0);                     // (Bt, G, Dg, L)
        return Finish(p, y).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Chunked (blocked) implementation. Inside a chunk of T steps, with S_t = A·Σ_{q≤t} Δ_q (chunk-local) and a
    /// per-chunk midpoint m, the decay exp(S_t − S_r) is factorised as exp(S_t − m)·exp(m − S_r), so the intra-chunk
    /// part is two batched matmuls (scores = Q·Kᵀ masked lower-triangular, then scores·(Δu)) and the chunk's end state
    /// one more. Chunk end states are combined by a Hillis–Steele parallel prefix over chunks (log₂(L/T) rounds of
    /// element-wise products of decays ≤ 1), so nothing ever divides by a running product.
    /// Stability: the factorisation is exact in exact arithmetic; to keep every factor within e^±<see
    /// cref="MaxChunkExponent"/> the chunk length is halved (down to 1, where it is trivially safe) until
    /// max|A|·(ΣΔ over a chunk)/2 ≤ <see cref="MaxChunkExponent"/> for every chunk.
    /// </summary>
    /// <param name="u">Input sequences (batch, channels, L).</param>
    /// <param name="delta">Step-size pre-activations (batch, channels, L), before bias and softplus.</param>
    /// <param name="A">State matrix diagonal (channels, N), negative.</param>
    /// <param name="B">Input projections (batch, groups, N, L) or (batch, N, L); group g serves a contiguous block of channels.</param>
    /// <param name="C">Output projections, shaped like <paramref name="B"/>.</param>
    /// <param name="D">Skip gains (channels), or null for none.</param>
    /// <param name="deltaBias">Step-size bias (channels), or null.</param>
    /// <param name="deltaSoftplus">Apply softplus to delta + bias (TinyViM: true).</param>
    /// <param name="chunkSize">Requested chunk length T (reduced automatically when the decays are too steep).</param>
    /// <returns>y with the layout of <paramref name="u"/>: (batch, channels, L).</returns>
    public static Tensor Chunked(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C,
        Tensor? D = null, Tensor? deltaBias = null, bool deltaSoftplus = true, int chunkSize = 8)
    {
        if (chunkSize < 1) throw new ArgumentOutOfRangeException(nameof(chunkSize), chunkSize, "chunkSize must be at least 1.");
        using var scope = torch.NewDisposeScope();
        var p = Prepare(u, delta, A, B, C, D, deltaBias, deltaSoftplus);
        var (bt, g, dg, n, l) = (p.Batch, p.Groups, p.PerGroup, p.N, p.L);

        var T = ChooseChunk(p, (int)Math.Min(chunkSize, l));
        var nc = (l + T - 1) / T;
        var pad = nc * T - l;
        // Trailing padding (Δ = 0, u = 0, B = C = 0) only follows the real steps, so it cannot change them.
        var dt = pad > 0 ? nn.functional.pad(p.Dt, new long[] { 0, pad }) : p.Dt;
        var uu = pad > 0 ? nn.functional.pad(p.U, new long[] { 0, pad }) : p.U;
        var bb = pad > 0 ? nn.functional.pad(p.B, new long[] { 0, pad }) : p.B;
        var cc = pad > 0 ? nn.functional.pad(p.C, new long[] { 0, pad }) : p.C;

        var dtc = dt.reshape(bt, g, dg, nc, T);
        var v = (dtc * uu.reshape(bt, g, dg, nc, T)).unsqueeze(-1);                        // Δu: (Bt,G,Dg,nc,T,1)
        var cum = dtc.cumsum(-1);                                                        // chunk-local Σ Δ
        var mid = cum.narrow(-1, 0, 1).Plus(cum.narrow(-1, T - 1, 1)).Times(0.5);          // (Bt,G,Dg,nc,1)
        var a6 = p.A.view(1, g, dg, 1, 1, n);
        var z = (cum - mid).unsqueeze(-1) * a6;                                          // S_t − m: (Bt,G,Dg,nc,T,N)

        var bc = bb.reshape(bt, g, n, nc, T).permute(0, 1, 3, 4, 2).unsqueeze(2);          // (Bt,G,1,nc,T,N)
        var ccT = cc.reshape(bt, g, n, nc, T).permute(0, 1, 3, 4, 2).unsqueeze(2);
        var q = ccT * z.exp();                                                           // C_t e^{S_t − m}
        var k = bc * z.neg().exp();                                                      // B_r e^{m − S_r}
        var kT = k.transpose(-1, -2);                                                    // (…,N,T)

        // Intra-chunk: y_t = Σ_{r≤t} (Σ_n C_t B_r e^{S_t−S_r}) Δ_r u_r.
        var yIntra = torch.matmul(torch.matmul(q, kT).tril(), v);                        // (…,nc,T,1)

        // Chunk summaries: state at the chunk end from its own inputs, and the chunk's total decay e^{S_T}.
        var a5 = p.A.view(1, g, dg, 1, n);
        var zEnd = z.select(-2, T - 1);                                                  // S_T − m ≤ 0
        var hLoc = zEnd.exp() * torch.matmul(kT, v).squeeze(-1);                         // (Bt,G,Dg,nc,N)
        var decay = (cum.narrow(-1, T - 1, 1) * a5).exp();                               // e^{S_T}: (Bt,G,Dg,nc,N)

        // Carry across chunks: state entering chunk c = end state of chunk c−1 (inclusive prefix, shifted by one).
        var hEnd = PrefixScan(decay, hLoc);
        var hIn = nc > 1 ? nn.functional.pad(hEnd.narrow(-2, 0, nc - 1), new long[] { 0, 0, 1, 0 }) : torch.zeros_like(hEnd);
        // y_t += Σ_n C_t e^{S_t} h_in = Σ_n q_t[n]·(e^{m} h_in)[n]; e^{m} may underflow only where the term is negligible.
        var scaledIn = (mid * a5).exp() * hIn;
        var yInter = torch.matmul(q, scaledIn.unsqueeze(-1));                            // (…,nc,T,1)

        var y = yIntra.Plus(yInter).squeeze(-1).reshape(bt, g, dg, nc * T);
        if (pad > 0) y = y.narrow(-1, 0, l);
        return Finish(p, y).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Inclusive scan of the affine maps h ↦ a_c·h + b_c along dimension −2 (Hillis–Steele: offsets 1, 2, 4, …).
    /// Returns h_c = a_c·h_{c−1} + b_c with h_{−1} = 0. All a are in [0, 1], so products only shrink.
    /// </summary>
    private static Tensor PrefixScan(Tensor a, Tensor b)
    {
        var count = a.shape[^2];
        for (long o = 1; o < count; o *= 2)
        {
            var bShift = nn.functional.pad(b.narrow(-2, 0, count - o), new long[] { 0, 0, o, 0 });
            b = b.Plus(a * bShift);
            if (2 * o < count)
                a = a * nn.functional.pad(a.narrow(-2, 0, count - o), new long[] { 0, 0, o, 0 }, value: 1.0);
        }
        return b;
    }

    /// <summary>Largest chunk length ≤ <paramref name="requested"/> (halving) whose factorised exponents stay bounded.</summary>
    private static int ChooseChunk(Prepared p, int requested)
    {
        var T = Math.Max(1, requested);
        if (T == 1) return 1;
        using var _ = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var aMax = p.A.abs().amax(new long[] { -1 }).view(1, p.Groups, p.PerGroup, 1);   // (1,G,Dg,1)
        var dt = p.Dt.detach();
        while (T > 1)
        {
            var nc = (p.L + T - 1) / T;
            var pad = nc * T - p.L;
            var dtp = pad > 0 ? nn.functional.pad(dt, new long[] { 0, pad }) : dt;
            var chunks = dtp.reshape(p.Batch, p.Groups, p.PerGroup, nc, T);
            // Span of the chunk-local cumulative sum: Σ Δ over steps 2..T of the chunk.
            var span = chunks.narrow(-1, 1, T - 1).sum(-1);                              // (Bt,G,Dg,nc)
            var worst = (span * aMax).max().to_type(ScalarType.Float64).item<double>() * 0.5;
            // NaN inputs give NaN outputs whatever the chunk length, so do not shrink for them.
            if (double.IsNaN(worst) || worst <= MaxChunkExponent) return T;
            T /= 2;
        }
        return 1;
    }

    private sealed record Prepared(Tensor U, Tensor Dt, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor UFlat,
        long Batch, long Groups, long PerGroup, long N, long L);

    /// <summary>Checks shapes, applies bias + softplus to Δ, casts to fp32 and splits channels into groups.</summary>
    private static Prepared Prepare(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? deltaBias,
        bool deltaSoftplus)
    {
        ArgumentNullException.ThrowIfNull(u);
        ArgumentNullException.ThrowIfNull(delta);
        ArgumentNullException.ThrowIfNull(A);
        ArgumentNullException.ThrowIfNull(B);
        ArgumentNullException.ThrowIfNull(C);
        if (u.dim() != 3) throw new ArgumentException($"u must be (batch, channels, L); got shape [{string.Join(", ", u.shape)}].", nameof(u));
        if (!u.shape.SequenceEqual(delta.shape))
            throw new ArgumentException($"delta must have u's shape [{string.Join(", ", u.shape)}]; got [{string.Join(", ", delta.shape)}].", nameof(delta));
        var (bt, ch, l) = (u.shape[0], u.shape[1], u.shape[2]);
        if (A.dim() != 2 || A.shape[0] != ch)
            throw new ArgumentException($"A must be (channels={ch}, N); got [{string.Join(", ", A.shape)}].", nameof(A));
        var n = A.shape[1];
        if (B.dim() == 3) B = B.unsqueeze(1);
        if (C.dim() == 3) C = C.unsqueeze(1);
        if (B.dim() != 4 || B.shape[0] != bt || B.shape[2] != n || B.shape[3] != l)
            throw new ArgumentException($"B must be (batch={bt}, groups, N={n}, L={l}); got [{string.Join(", ", B.shape)}].", nameof(B));
        if (!B.shape.SequenceEqual(C.shape))
            throw new ArgumentException($"C must have B's shape [{string.Join(", ", B.shape)}]; got [{string.Join(", ", C.shape)}].", nameof(C));
        var g = B.shape[1];
        if (g < 1 || ch % g != 0)
            throw new ArgumentException($"The {ch} channels must split evenly into the {g} groups of B and C.", nameof(B));
        if (D is not null && (D.dim() != 1 || D.shape[0] != ch))
            throw new ArgumentException($"D must be (channels={ch}); got [{string.Join(", ", D.shape)}].", nameof(D));
        if (deltaBias is not null && (deltaBias.dim() != 1 || deltaBias.shape[0] != ch))
            throw new ArgumentException($"deltaBias must be (channels={ch}); got [{string.Join(", ", deltaBias.shape)}].", nameof(deltaBias));

        var dtype = u.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var dg = ch / g;
        var dt = delta.to_type(dtype);
        if (deltaBias is not null) dt = dt.Plus(deltaBias.to_type(dtype).reshape(1, ch, 1));
        if (deltaSoftplus) dt = dt.Softplus();
        var uf = u.to_type(dtype);
        return new Prepared(
            uf.reshape(bt, g, dg, l), dt.reshape(bt, g, dg, l), A.to_type(dtype).reshape(g, dg, n),
            B.to_type(dtype), C.to_type(dtype), D?.to_type(dtype), uf, bt, g, dg, n, l);
    }

    /// <summary>Adds the D skip and returns (batch, channels, L).</summary>
    private static Tensor Finish(Prepared p, Tensor yGrouped)
    {
        var y = yGrouped.reshape(p.Batch, p.Groups * p.PerGroup, p.L);
        if (p.D is not null) y = y.Plus(p.D.reshape(1, -1, 1) * p.UFlat);
        return y;
    }
}

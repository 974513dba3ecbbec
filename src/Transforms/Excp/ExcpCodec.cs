namespace MLNetExtensions.Transforms.Excp;

/// <summary>
/// The ExCP algorithm on whole checkpoints (method note §2): residual against the previous RECONSTRUCTED checkpoint
/// (closed loop), weight–momentum joint shrinking, non-uniform quantisation; and the inverse.
/// </summary>
public static class ExcpCodec
{
    /// <summary>
    /// Compresses <paramref name="current"/> against <paramref name="reconstructedParent"/> (the decoded previous link,
    /// not the raw previous checkpoint). A null parent makes a lossless key frame. Returns the link and its
    /// reconstruction, which must be the parent of the next call.
    /// </summary>
    public static ExcpCompressed Compress(TrainingCheckpoint current, TrainingCheckpoint? reconstructedParent, ExcpOptions options)
    {
        ArgumentNullException.ThrowIfNull(current);
        options.Validate();
        foreach (var p in current.Parameters) CheckFinite(p, current.Step);
        if (reconstructedParent == null) return KeyFrame(current, options);

        var tensors = new List<EncodedTensor>(current.Parameters.Count);
        foreach (var p in current.Parameters)
        {
            if (p.Adam == null || !reconstructedParent.TryGet(p.Name, out var parent))
            {
                // Buffers/frozen tensors and tensors new in this checkpoint: never dropped (the official code does), stored losslessly.
                tensors.Add(new EncodedTensor { Name = p.Name, Shape = p.Shape, Encoding = TensorEncoding.Lossless, Values = p.Values, Adam = p.Adam });
                continue;
            }
            if (!parent.Shape.SequenceEqual(p.Shape))
                throw new ArgumentException($"Parameter '{p.Name}' has shape [{string.Join(",", p.Shape)}] at step {current.Step} but [{string.Join(",", parent.Shape)}] in the parent (step {reconstructedParent.Step}); start a new chain (key frame).");
            tensors.Add(EncodeTensor(p, parent.Values, options));
        }
        var link = new ExcpLink
        {
            Step = current.Step, IsKeyFrame = false, ParentStep = reconstructedParent.Step, ParentHash = reconstructedParent.ContentHash(),
            ReconstructionHash = Array.Empty<byte>(), Options = options, Optimizer = current.Optimizer, Extras = current.Extras, Tensors = tensors,
        };
        var recon = Reconstruct(link, reconstructedParent);
        return new ExcpCompressed(WithHash(link, recon.ContentHash()), recon);
    }

    /// <summary>A lossless key frame of <paramref name="checkpoint"/> (chain base).</summary>
    public static ExcpCompressed KeyFrame(TrainingCheckpoint checkpoint, ExcpOptions options)
    {
        var tensors = checkpoint.Parameters.Select(p => new EncodedTensor
        { Name = p.Name, Shape = p.Shape, Encoding = TensorEncoding.Lossless, Values = p.Values, Adam = p.Adam }).ToList();
        var link = new ExcpLink
        {
            Step = checkpoint.Step, IsKeyFrame = true, ParentStep = -1, ParentHash = Array.Empty<byte>(), ReconstructionHash = checkpoint.ContentHash(),
            Options = options, Optimizer = checkpoint.Optimizer, Extras = checkpoint.Extras, Tensors = tensors,
        };
        return new ExcpCompressed(link, checkpoint);
    }

    /// <summary>
    /// Encodes one parameter with Adam state against its parent's reconstructed values: R = W − Ŵ_parent,
    /// M_w = |R| &gt; min(clamp, α/√mean(v))·median|R|, M_o = (|m| &gt; β·mean|m|) ∧ M_w, then 3 quantized streams.
    /// </summary>
    public static EncodedTensor EncodeTensor(CheckpointParameter p, float[] parentValues, ExcpOptions options)
    {
        var adam = p.Adam ?? throw new ArgumentException($"Parameter '{p.Name}' has no Adam state to compress.");
        int n = p.Values.Length;
        var residual = new float[n];
        for (int i = 0; i < n; i++) residual[i] = p.Values[i] - parentValues[i];

        var wc = ExcpPruning.WeightThreshold(residual, adam.ExpAvgSq, options.Alpha, options.MultiplierClamp);
        var wmask = ExcpPruning.WeightMask(residual, wc.Threshold);
        if (options.MinWeightKeptFraction > 0) wmask = ExcpPruning.ApplyKeptFloor(wmask, residual, options.MinWeightKeptFraction);
        float tauO = ExcpPruning.MomentumThreshold(adam.ExpAvg, options.Beta);
        var omaskFull = ExcpPruning.MomentumMask(adam.ExpAvg, tauO, residual, wmask);

        int kw = 0, ko = 0;
        for (int i = 0; i < n; i++) { if (wmask[i]) kw++; if (omaskFull[i]) ko++; }
        var rKept = new float[kw];
        var omask = new bool[kw];
        var mKept = new float[ko];
        var vKept = new float[ko];
        for (int i = 0, a = 0, b = 0; i < n; i++)
        {
            if (!wmask[i]) continue;
            rKept[a] = residual[i];
            omask[a++] = omaskFull[i];
            if (omaskFull[i]) { mKept[b] = adam.ExpAvg[i]; vKept[b++] = adam.ExpAvgSq[i]; }
        }
        bool f16 = options.OfficialCompatibility;
        return new EncodedTensor
        {
            Name = p.Name, Shape = p.Shape, Encoding = TensorEncoding.Excp, WeightMask = wmask, MomentMask = omask,
            Residual = ExcpQuantizer.Quantize(rKept, options.WeightBits, f16),
            ExpAvg = ExcpQuantizer.Quantize(mKept, options.MomentBits, f16),
            ExpAvgSq = ExcpQuantizer.Quantize(vKept, options.MomentBits, f16),
            AdamStep = adam.Step,
            Statistics = new TensorStatistics(n, kw, ko, wc, tauO),
        };
    }

    /// <summary>
    /// Decodes a link given its parent's reconstruction (null for a key frame) and checks both hashes: the parent must be
    /// the one the link was made against, and the result must equal what the compressor reconstructed.
    /// </summary>
    public static TrainingCheckpoint Decode(ExcpLink link, TrainingCheckpoint? parent, string source = "<memory>")
    {
        if (!link.IsKeyFrame)
        {
            if (parent == null) throw new ExcpFormatException(source, link.Step, $"link needs its parent (step {link.ParentStep}) to decode.");
            if (parent.Step != link.ParentStep || !parent.ContentHash().AsSpan().SequenceEqual(link.ParentHash))
                throw new ExcpFormatException(source, link.Step, $"parent mismatch: the link was made against step {link.ParentStep} with hash {Hex(link.ParentHash)}, got step {parent.Step} with hash {Hex(parent.ContentHash())}.");
        }
        TrainingCheckpoint recon;
        try { recon = Reconstruct(link, parent); }
        catch (Exception e) when (e is ArgumentException or KeyNotFoundException or IndexOutOfRangeException)
        { throw new ExcpFormatException(source, link.Step, $"inconsistent link content: {e.Message}", e); }
        var hash = recon.ContentHash();
        if (!hash.AsSpan().SequenceEqual(link.ReconstructionHash))
            throw new ExcpFormatException(source, link.Step, $"reconstruction hash {Hex(hash)} differs from the recorded {Hex(link.ReconstructionHash)}.");
        return recon;
    }

    /// <summary>Ŵ = Ŵ_parent + decode(residual); m̂, v̂ = decoded moments (0 where pruned). No hash checks.</summary>
    internal static TrainingCheckpoint Reconstruct(ExcpLink link, TrainingCheckpoint? parent)
    {
        bool compat = link.Options.OfficialCompatibility;
        var ps = new List<CheckpointParameter>(link.Tensors.Count);
        foreach (var t in link.Tensors)
        {
            if (t.Encoding == TensorEncoding.Lossless)
            {
                ps.Add(new CheckpointParameter(t.Name, t.Shape, t.Values!, t.Adam));
                continue;
            }
            if (parent == null) throw new ArgumentException($"tensor '{t.Name}' is residual-coded but the link has no parent.");
            var par = parent[t.Name];
            int n = checked((int)t.ElementCount);
            if (par.Values.Length != n) throw new ArgumentException($"tensor '{t.Name}' has {n} elements but {par.Values.Length} in the parent.");
            var w = (float[])par.Values.Clone();
            var m = new float[n];
            var v = new float[n];
            var wm = t.WeightMask!; var om = t.MomentMask!;
            for (int i = 0, a = 0, b = 0; i < n; i++)
            {
                if (!wm[i]) continue;
                w[i] = par.Values[i] + t.Residual![a];
                if (om[a]) { m[i] = t.ExpAvg![b]; v[i] = t.ExpAvgSq![b]; b++; }
                a++;
            }
            // The official recon() writes the REFERENCE checkpoint's optimizer.pt with only the moments replaced, so the
            // step stays frozen at the chain base's. We restore the checkpoint's true step unless asked for parity.
            long step = compat && par.Adam != null ? par.Adam.Step : t.AdamStep;
            ps.Add(new CheckpointParameter(t.Name, t.Shape, w, new AdamState(m, v, step)));
        }
        var hyper = compat && parent != null && !link.IsKeyFrame ? parent.Optimizer : link.Optimizer;
        return new TrainingCheckpoint(link.Step, ps, hyper, link.Extras);
    }

    private static ExcpLink WithHash(ExcpLink l, byte[] hash) => new()
    {
        Step = l.Step, IsKeyFrame = l.IsKeyFrame, ParentStep = l.ParentStep, ParentHash = l.ParentHash, ReconstructionHash = hash,
        Options = l.Options, Optimizer = l.Optimizer, Extras = l.Extras, Tensors = l.Tensors,
    };

    private static void CheckFinite(CheckpointParameter p, long step)
    {
        static bool Ok(float[] a) { foreach (var x in a) if (!float.IsFinite(x)) return false; return true; }
        if (!Ok(p.Values) || (p.Adam != null && (!Ok(p.Adam.ExpAvg) || !Ok(p.Adam.ExpAvgSq))))
            throw new ArgumentException($"Parameter '{p.Name}' at step {step} contains NaN or infinity; a diverged checkpoint cannot be compressed.");
    }

    internal static string Hex(byte[] h) => h.Length == 0 ? "(none)" : Convert.ToHexString(h, 0, Math.Min(8, h.Length)).ToLowerInvariant() + "…";
}

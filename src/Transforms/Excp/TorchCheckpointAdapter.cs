using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Excp;

/// <summary>
/// Converts between a live TorchSharp module + Adam/AdamW optimizer and a <see cref="TrainingCheckpoint"/>. Optimizer
/// state is matched to parameters by identity (hence by name), never by a hard-coded position list.
/// </summary>
public static class TorchCheckpointAdapter
{
    /// <summary>
    /// Captures parameters (with their Adam state when <paramref name="optimizer"/> tracks them), float buffers (lossless,
    /// no optimizer state) and the first parameter group's hyper-parameters.
    /// </summary>
    public static TrainingCheckpoint Capture(nn.Module module, OptimizerHelper? optimizer, long step, IReadOnlyDictionary<string, byte[]>? extras = null)
    {
        var states = StatesByHandle(optimizer);
        var list = new List<CheckpointParameter>();
        foreach (var (name, p) in module.named_parameters())
        {
            AdamState? adam = null;
            if (states.TryGetValue(p.Handle, out var st))
            {
                var (m, v, s) = Fields(st, name);
                adam = m is null || v is null ? null : new AdamState(ToArray(m), ToArray(v), s);
            }
            list.Add(new CheckpointParameter(name, p.shape, ToArray(p), adam));
        }
        foreach (var (name, b) in module.named_buffers())
            if (torch.is_floating_point(b)) list.Add(new CheckpointParameter(name, b.shape, ToArray(b)));
        return new TrainingCheckpoint(step, list, Hyper(optimizer), extras);
    }

    /// <summary>
    /// Writes a checkpoint back into <paramref name="module"/> and <paramref name="optimizer"/> (moments and step), in
    /// place. With <paramref name="strict"/>, every parameter of the module must be present with the same shape.
    /// </summary>
    public static void Restore(TrainingCheckpoint checkpoint, nn.Module module, OptimizerHelper? optimizer, bool strict = true)
    {
        var states = StatesByHandle(optimizer);
        using var _ = no_grad();
        foreach (var (name, p) in module.named_parameters())
        {
            if (!checkpoint.TryGet(name, out var c))
            {
                if (strict) throw new ArgumentException($"Checkpoint step {checkpoint.Step} has no parameter '{name}' required by the module.");
                continue;
            }
            CopyInto(p, c, name);
            if (c.Adam != null && states.TryGetValue(p.Handle, out var st))
            {
                var (m, v, _) = Fields(st, name);
                if (m is null || v is null) throw new InvalidOperationException($"Optimizer state of '{name}' is not initialised.");
                using (var t = tensor(c.Adam.ExpAvg, p.shape)) m.copy_(t);
                using (var t = tensor(c.Adam.ExpAvgSq, p.shape)) v.copy_(t);
                SetStep(st, c.Adam.Step);
            }
        }
        foreach (var (name, b) in module.named_buffers())
            if (torch.is_floating_point(b) && checkpoint.TryGet(name, out var c)) CopyInto(b, c, name);
    }

    /// <summary>Row-major float32 copy of a tensor (any device / floating dtype).</summary>
    public static float[] ToArray(Tensor t)
    {
        using var c = t.detach().cpu().to(float32).contiguous();
        return c.data<float>().ToArray();
    }

    private static void CopyInto(Tensor target, CheckpointParameter c, string name)
    {
        if (!target.shape.SequenceEqual(c.Shape))
            throw new ArgumentException($"Parameter '{name}': module shape [{string.Join(",", target.shape)}], checkpoint shape [{string.Join(",", c.Shape)}].");
        using var t = tensor(c.Values, c.Shape);
        target.copy_(t);
    }

    private static Dictionary<IntPtr, OptimizerState> StatesByHandle(OptimizerHelper? optimizer)
    {
        var map = new Dictionary<IntPtr, OptimizerState>();
        if (optimizer == null) return map;
        // state_dict().State lists the states in parameters() order (param groups concatenated).
        var ps = optimizer.parameters().ToList();
        var sd = optimizer.state_dict();
        if (sd.State.Count != ps.Count) throw new InvalidOperationException($"Optimizer reports {sd.State.Count} states for {ps.Count} parameters.");
        for (int i = 0; i < ps.Count; i++) map[ps[i].Handle] = sd.State[i];
        return map;
    }

    private static (Tensor? M, Tensor? V, long Step) Fields(OptimizerState st, string name) => st switch
    {
        Adam.State a => (a.exp_avg, a.exp_avg_sq, a.step),
        AdamW.State a => (a.exp_avg, a.exp_avg_sq, a.step),
        _ => throw new NotSupportedException($"Optimizer state of '{name}' is {st.GetType().Name}; ExCP supports Adam and AdamW."),
    };

    private static void SetStep(OptimizerState st, long step)
    {
        switch (st)
        {
            case Adam.State a: a.step = step; break;
            case AdamW.State a: a.step = step; break;
        }
    }

    private static AdamHyperParameters? Hyper(OptimizerHelper? optimizer)
    {
        if (optimizer == null) return null;
        var o = optimizer.state_dict().Options.FirstOrDefault();
        return o switch
        {
            Adam.Options a => new AdamHyperParameters(a.LearningRate ?? 0, a.beta1 ?? 0.9, a.beta2 ?? 0.999, a.eps ?? 1e-8, a.weight_decay ?? 0, false),
            AdamW.Options a => new AdamHyperParameters(a.LearningRate ?? 0, a.beta1 ?? 0.9, a.beta2 ?? 0.999, a.eps ?? 1e-8, a.weight_decay ?? 0, true),
            _ => null,
        };
    }
}

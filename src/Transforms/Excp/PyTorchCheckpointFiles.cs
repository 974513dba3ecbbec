using MLNetExtensions.Core.IO;
using System.Collections;
using System.Collections.Specialized;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Excp;

/// <summary>
/// Reads and writes PyTorch checkpoint files (a <c>torch.save(model.state_dict())</c> <c>.pt</c> or a
/// <c>.safetensors</c> file, plus a <c>torch.save(optimizer.state_dict())</c> Adam/AdamW file) through TorchSharp.PyBridge.
/// </summary>
/// <remarks>
/// PyTorch keys optimizer state by parameter POSITION. That order is not recoverable from a state-dict file, so pass
/// <c>parameterNames</c> (the names of <c>model.parameters()</c> in order). Without it, a position is matched to the
/// only model tensor of the same shape; any ambiguity is an error rather than a silent guess (the official code's
/// hard-coded name list, issue Gaffey/ExCP#4, is exactly such a guess).
/// </remarks>
public static class PyTorchCheckpointFiles
{
    /// <summary>Loads model (and optionally optimizer) state into a <see cref="TrainingCheckpoint"/>.</summary>
    public static TrainingCheckpoint Load(string modelPath, string? optimizerPath, long step, IReadOnlyList<string>? parameterNames = null)
    {
        var tensors = LoadModel(modelPath);
        try
        {
            var adam = new Dictionary<string, AdamState>(StringComparer.Ordinal);
            AdamHyperParameters? hyper = null;
            if (optimizerPath != null)
            {
                var h = PyTorchUnpickler.UnpickleStateDict(optimizerPath);
                var state = h["state"] as Hashtable ?? throw new FormatException($"'{optimizerPath}' has no 'state' dict; is it an optimizer state_dict?");
                var groups = h["param_groups"] as IList ?? throw new FormatException($"'{optimizerPath}' has no 'param_groups' list.");
                var order = new List<int>();
                foreach (IDictionary g in groups) foreach (var i in (IList)g["params"]!) order.Add(Convert.ToInt32(i));
                if (groups.Count > 0) hyper = Hyper((IDictionary)groups[0]!);
                var names = parameterNames ?? MatchByShape(tensors, state, order, optimizerPath);
                if (names.Count != order.Count)
                    throw new ArgumentException($"{names.Count} parameter names given but the optimizer in '{optimizerPath}' has {order.Count} parameters.");
                for (int pos = 0; pos < order.Count; pos++)
                {
                    if (state[order[pos]] is not IDictionary s) continue; // never stepped
                    var name = names[pos];
                    if (!tensors.TryGetValue(name, out var w)) throw new ArgumentException($"Optimizer parameter #{pos} is mapped to '{name}', which is not in '{modelPath}'.");
                    var m = (Tensor)s["exp_avg"]!; var v = (Tensor)s["exp_avg_sq"]!;
                    if (!m.shape.SequenceEqual(w.shape)) throw new ArgumentException($"Optimizer parameter #{pos} has shape [{string.Join(",", m.shape)}] but '{name}' is [{string.Join(",", w.shape)}]; check the parameter order.");
                    adam[name] = new AdamState(TorchCheckpointAdapter.ToArray(m), TorchCheckpointAdapter.ToArray(v), StepOf(s["step"]));
                }
            }
            var ps = tensors.OrderBy(k => k.Key, StringComparer.Ordinal).Select(k =>
                new CheckpointParameter(k.Key, k.Value.shape, TorchCheckpointAdapter.ToArray(k.Value), adam.GetValueOrDefault(k.Key)));
            return new TrainingCheckpoint(step, ps, hyper);
        }
        finally { foreach (var t in tensors.Values) t.Dispose(); }
    }

    /// <summary>
    /// Writes the weights as a PyTorch state dict (<c>.pt</c>, or <c>.safetensors</c> by extension) and, if
    /// <paramref name="optimizerPath"/> is given, an Adam/AdamW optimizer state dict whose positions follow
    /// <paramref name="parameterNames"/> (default: the checkpoint's order of tensors with Adam state).
    /// </summary>
    public static void Save(TrainingCheckpoint checkpoint, string modelPath, string? optimizerPath = null, IReadOnlyList<string>? parameterNames = null)
    {
        var model = new Dictionary<string, Tensor>();
        var disposables = new List<Tensor>();
        try
        {
            foreach (var p in checkpoint.Parameters) { var t = tensor(p.Values, p.Shape); disposables.Add(t); model[p.Name] = t; }
            if (modelPath.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
                AtomicFile.Write(modelPath, s => Safetensors.SaveStateDict(s, model, leaveOpen: true));
            else
            {
                var od = new OrderedDictionary();
                foreach (var p in checkpoint.Parameters) od[p.Name] = model[p.Name];
                AtomicFile.Write(modelPath, s => PyTorchPickler.PickleStateDict(s, od, leaveOpen: true));
            }
            if (optimizerPath == null) return;
            var names = parameterNames ?? checkpoint.Parameters.Where(p => p.Adam != null).Select(p => p.Name).ToList();
            var state = new Hashtable();
            var idx = new ArrayList();
            for (int i = 0; i < names.Count; i++)
            {
                var p = checkpoint[names[i]];
                idx.Add(i);
                if (p.Adam == null) continue;
                var m = tensor(p.Adam.ExpAvg, p.Shape); var v = tensor(p.Adam.ExpAvgSq, p.Shape); var st = tensor((float)p.Adam.Step);
                disposables.AddRange(new[] { m, v, st });
                state[i] = new Hashtable { ["step"] = st, ["exp_avg"] = m, ["exp_avg_sq"] = v };
            }
            var h = checkpoint.Optimizer ?? new AdamHyperParameters(1e-3, 0.9, 0.999, 1e-8, 0, false);
            var group = new Hashtable
            {
                ["lr"] = h.LearningRate, ["betas"] = new object[] { h.Beta1, h.Beta2 }, ["eps"] = h.Eps, ["weight_decay"] = h.WeightDecay,
                ["amsgrad"] = false, ["maximize"] = false, ["params"] = idx,
            };
            var root = new Hashtable { ["state"] = state, ["param_groups"] = new ArrayList { group } };
            AtomicFile.Write(optimizerPath, s => PyTorchPickler.PickleStateDict(s, root, leaveOpen: true));
        }
        finally { foreach (var t in disposables) t.Dispose(); }
    }

    private static Dictionary<string, Tensor> LoadModel(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Model state dict '{path}' does not exist.", path);
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)) return Safetensors.LoadStateDict(path);
        var h = PyTorchUnpickler.UnpickleStateDict(path);
        var d = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (DictionaryEntry e in h)
            if (e.Value is Tensor t && torch.is_floating_point(t)) d[(string)e.Key] = t;
            else if (e.Value is Tensor other) other.Dispose();
        return d;
    }

    private static List<string> MatchByShape(Dictionary<string, Tensor> model, Hashtable state, List<int> order, string path)
    {
        var names = new List<string>();
        var used = new HashSet<string>();
        for (int pos = 0; pos < order.Count; pos++)
        {
            if (state[order[pos]] is not IDictionary s) throw new ArgumentException($"Optimizer parameter #{pos} in '{path}' has no state; pass parameter names explicitly.");
            var shape = ((Tensor)s["exp_avg"]!).shape;
            var cands = model.Where(k => k.Value.shape.SequenceEqual(shape)).Select(k => k.Key).ToList();
            if (cands.Count != 1)
                throw new ArgumentException($"Cannot map optimizer parameter #{pos} (shape [{string.Join(",", shape)}]) to a model tensor: {cands.Count} tensors have that shape. Pass the parameter names in model.parameters() order (--param-names).");
            if (!used.Add(cands[0])) throw new ArgumentException($"Model tensor '{cands[0]}' matched twice; pass the parameter names explicitly.");
            names.Add(cands[0]);
        }
        return names;
    }

    private static long StepOf(object? step) => step switch
    {
        Tensor t => (long)Math.Round(t.to(float64).item<double>()),
        null => 0,
        _ => Convert.ToInt64(step),
    };

    private static AdamHyperParameters Hyper(IDictionary g)
    {
        double D(string k, double d) => g.Contains(k) && g[k] is IConvertible c ? c.ToDouble(null) : d;
        double b1 = 0.9, b2 = 0.999;
        if (g.Contains("betas") && g["betas"] is IList b && b.Count == 2) { b1 = Convert.ToDouble(b[0]); b2 = Convert.ToDouble(b[1]); }
        else if (g.Contains("betas") && g["betas"] is object[] a && a.Length == 2) { b1 = Convert.ToDouble(a[0]); b2 = Convert.ToDouble(a[1]); }
        return new AdamHyperParameters(D("lr", 1e-3), b1, b2, D("eps", 1e-8), D("weight_decay", 0), false);
    }
}

using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Torch;

/// <summary>Copying saved tensors into a module, strictly (every key, every shape), naming the source in errors.</summary>
public static class StateDicts
{
    /// <summary>
    /// Copies <paramref name="weights"/> into <paramref name="model"/>'s state dict; every key the model has must be
    /// present with its shape, except keys <paramref name="mayKeepInitial"/> accepts (constant buffers a family added
    /// after older saves, e.g. SSA's <c>empty_weight</c>: they keep the module's own value). The given tensors are
    /// disposed. <paramref name="source"/> names them in errors.
    /// </summary>
    public static void LoadStrict(nn.Module model, Dictionary<string, Tensor> weights, string source, Func<string, bool>? mayKeepInitial = null)
    {
        try
        {
            var sd = model.state_dict();
            var missing = sd.Keys.Except(weights.Keys).Where(k => mayKeepInitial == null || !mayKeepInitial(k)).ToList();
            if (missing.Count > 0) throw new InvalidDataException($"Checkpoint '{source}' lacks {missing.Count} tensors of this model (e.g. '{missing[0]}'); it belongs to another architecture.");
            using (torch.no_grad())
                foreach (var (k, v) in sd)
                {
                    if (!weights.TryGetValue(k, out var w)) continue; // accepted by mayKeepInitial

                    if (!w.shape.SequenceEqual(v.shape)) throw new InvalidDataException($"Checkpoint '{source}': tensor '{k}' has shape [{string.Join(",", w.shape)}], model expects [{string.Join(",", v.shape)}].");
                    v.copy_(w);
                }
        }
        finally
        {
            foreach (var t in weights.Values) t.Dispose();
        }
    }
}

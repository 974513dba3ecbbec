using MLNetExtensions.Core.Data.Binding;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Models;

/// <summary>Batch → the network's named input tensors, with each input's preprocessing (image normalisation) applied.</summary>
public static class ModelInputs
{
    /// <summary>
    /// Tensors of every slot of <paramref name="specs"/> for the valid rows of <paramref name="batch"/> on
    /// <paramref name="device"/> (variable-length slots also get <c>slot.lengths</c>); created in the caller's dispose scope.
    /// </summary>
    public static Dictionary<string, Tensor> From(HostBatch batch, IEnumerable<InputSpec> specs, Device device)
    {
        var d = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var s in specs)
            foreach (var (name, _, _, variable) in s.Buffers())
            {
                var buffer = batch[name];
                var t = buffer.ToTensor(batch.Count, device);
                d[name] = s is ImageInputSpec img ? img.NormalizeInPlace(t) : t; // t is fresh: normalise it in place
                if (variable) d[name + HostBatch.LengthsSuffix] = buffer.LengthsTensor(batch.Count, device);
            }
        return d;
    }
}

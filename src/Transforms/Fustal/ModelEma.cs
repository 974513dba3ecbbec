using MLNetExtensions.Core.Torch;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Fustal;

/// <summary>
/// Mean-teacher weight averaging (ActionFormer <c>ModelEma.update</c>, note fustal.md §5.2):
/// <c>θ_ema ← decay·θ_ema + (1 − decay)·θ</c> over every state-dict entry, buffers included, matched by key.
/// </summary>
public static class ModelEma
{
    /// <summary>Updates <paramref name="ema"/> in place from <paramref name="model"/> (same architecture).</summary>
    public static void Update(nn.Module ema, nn.Module model, double decay = 0.999)
    {
        ArgumentNullException.ThrowIfNull(ema);
        ArgumentNullException.ThrowIfNull(model);
        if (!(decay >= 0 && decay <= 1)) throw new ArgumentOutOfRangeException(nameof(decay), decay, "Must lie in [0, 1].");
        var target = ema.state_dict();
        var source = model.state_dict();
        if (target.Count != source.Count || !target.Keys.All(source.ContainsKey))
            throw new ArgumentException("The EMA copy and the model have different state-dict keys.", nameof(model));
        using var noGrad = no_grad();
        foreach (var (key, e) in target)
        {
            using var scope = NewDisposeScope();
            var m = source[key];
            // PyTorch promotion: a float tensor keeps its dtype; an integer buffer (num_batches_tracked) is blended in
            // float32 and truncated back by copy_.
            var (a, b) = e.is_floating_point() ? (e, m) : (e.to_type(ScalarType.Float32), m.to_type(ScalarType.Float32));
            e.copy_(a.Times(decay).Plus(b.Times(1 - decay)).to_type(e.dtype));
        }
    }
}

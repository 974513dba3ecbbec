using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Models;

/// <summary>
/// The uniform model interface the trainers and transformers use: a module that owns the weights (state-dict names
/// exactly the official ones — it is not wrapped, so no prefix is added) and a forward from named input tensors
/// (batch slots) to named output tensors. Single-tensor families (image classifiers, segmenters, video classifiers)
/// read slot <see cref="InputSlot"/> and write <see cref="LogitsSlot"/>; multi-input families (several modalities, text
/// and image, teacher intermediates) implement <c>nn.Module&lt;Dictionary&lt;string, Tensor&gt;, Dictionary&lt;string, Tensor&gt;&gt;</c>.
/// </summary>
public sealed class TorchNetwork
{
    /// <summary>Slot a single-tensor network reads.</summary>
    public const string InputSlot = "input";
    /// <summary>Slot a single-tensor network writes.</summary>
    public const string LogitsSlot = "logits";

    private readonly Func<IReadOnlyDictionary<string, Tensor>, IReadOnlyDictionary<string, Tensor>> _forward;

    /// <summary>Wraps a module and its named forward.</summary>
    public TorchNetwork(nn.Module module, Func<IReadOnlyDictionary<string, Tensor>, IReadOnlyDictionary<string, Tensor>> forward)
    {
        Module = module ?? throw new ArgumentNullException(nameof(module));
        _forward = forward ?? throw new ArgumentNullException(nameof(forward));
    }

    /// <summary>The module (weights, train/eval, device).</summary>
    public nn.Module Module { get; }

    /// <summary>Runs the network on named inputs.</summary>
    public IReadOnlyDictionary<string, Tensor> Forward(IReadOnlyDictionary<string, Tensor> inputs) => _forward(inputs);

    /// <summary>A single-tensor network: <see cref="InputSlot"/> → <see cref="LogitsSlot"/>.</summary>
    public static TorchNetwork Single(nn.Module<Tensor, Tensor> module) =>
        new(module, x => new Dictionary<string, Tensor> { [LogitsSlot] = module.call(x.TryGetValue(InputSlot, out var t) ? t
            : throw new KeyNotFoundException($"The network reads slot '{InputSlot}'; the batch has {string.Join(", ", x.Keys)}.")) });

    /// <summary>A named-tensor network.</summary>
    public static TorchNetwork Named(nn.Module<Dictionary<string, Tensor>, Dictionary<string, Tensor>> module) =>
        new(module, x => module.call(new Dictionary<string, Tensor>(x)));

    /// <summary>The module as a single-tensor module (throws naming the family when it is not one).</summary>
    public nn.Module<Tensor, Tensor> AsSingle() => Module as nn.Module<Tensor, Tensor>
        ?? throw new InvalidOperationException($"Network {Module.GetType().Name} takes named inputs, not one tensor.");
}

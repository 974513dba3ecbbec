using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Torch;

/// <summary>
/// TorchSharp's <see cref="AdamW"/> with the same update, state and state-dict layout, but a <c>step</c> whose scalars
/// stay alive until LibTorch returns: TorchSharp 0.107's step makes about seven temporary Scalars per parameter
/// (<c>mul_(beta1)</c>, <c>add_(grad, alpha: 1 − beta1)</c>, …) that a GC on another thread can free mid-call (see
/// <see cref="ScalarOps"/>). Moments, bias corrections and the decoupled decay follow TorchSharp's (= PyTorch's) order.
/// </summary>
public sealed class RootedAdamW : AdamW
{
    /// <summary>Creates the optimiser over parameter groups (TorchSharp/PyTorch defaults).</summary>
    public RootedAdamW(IEnumerable<ParamGroup> groups, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weightDecay = 0)
        : base(groups, lr, beta1, beta2, eps, weightDecay, amsgrad: false, maximize: false) { }

    /// <summary>
    /// Creates the optimiser over parameters. With <paramref name="weightDecay"/> 0 it is exactly Adam (the decoupled
    /// decay multiplies by 1), so it also replaces <c>torch.optim.Adam</c> without weight decay.
    /// </summary>
    public RootedAdamW(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weightDecay = 0)
        : base(parameters, lr, beta1, beta2, eps, weightDecay, amsgrad: false, maximize: false) { }

    /// <inheritdoc/>
    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var o = (Options)group.Options;
        double beta1 = o.beta1!.Value, beta2 = o.beta2!.Value, wd = o.weight_decay!.Value, eps = o.eps!.Value, lr = o.LearningRate!.Value;
        if (o.amsgrad == true || o.maximize == true)
            throw new NotSupportedException("RootedAdamW implements AdamW without amsgrad/maximize (the suite uses neither).");
        using var decay = (1 - lr * wd).ToScalar();
        using var update = new RootedAdamUpdate(beta1, beta2, eps, lr);
        foreach (var param in group.Parameters)
        {
            var grad = param.grad;
            if (grad is null) continue;
            var state = (State)_state[param.Handle];
            state.step += 1;
            param.mul_(decay);
            update.Apply(param, grad, state.exp_avg, state.exp_avg_sq, state.step);
        }
    }, closure);
}

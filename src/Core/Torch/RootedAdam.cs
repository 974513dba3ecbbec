using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Torch;

/// <summary>
/// TorchSharp's <see cref="Adam"/> (coupled L2 weight decay: the decay is added to the gradient) with the same update,
/// state and state-dict layout, but a <c>step</c> whose scalars stay alive until LibTorch returns (TorchSharp 0.107's
/// step passes temporaries; see <see cref="ScalarOps"/>). Use <see cref="RootedAdamW"/> for decoupled decay.
/// </summary>
public sealed class RootedAdam : Adam
{
    /// <summary>Creates the optimiser over parameters (TorchSharp/PyTorch defaults).</summary>
    public RootedAdam(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weightDecay = 0)
        : base(parameters, lr, beta1, beta2, eps, weightDecay, amsgrad: false, maximize: false) { }

    /// <inheritdoc/>
    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var o = (Options)group.Options;
        double beta1 = o.beta1!.Value, beta2 = o.beta2!.Value, wd = o.weight_decay!.Value, eps = o.eps!.Value, lr = o.LearningRate!.Value;
        if (o.amsgrad == true || o.maximize == true)
            throw new NotSupportedException("RootedAdam implements Adam without amsgrad/maximize (the suite uses neither).");
        using var decay = wd.ToScalar();
        using var b1 = beta1.ToScalar();
        using var b2 = beta2.ToScalar();
        using var oneMinusB1 = (1 - beta1).ToScalar();
        using var oneMinusB2 = (1 - beta2).ToScalar();
        using var epsS = eps.ToScalar();
        foreach (var param in group.Parameters)
        {
            var grad = param.grad;
            if (grad is null) continue;
            using var scope = NewDisposeScope();
            var state = (State)_state[param.Handle];
            state.step += 1;
            if (wd != 0) grad = grad.add(param, decay);
            double bc1 = 1 - Math.Pow(beta1, state.step), bc2 = 1 - Math.Pow(beta2, state.step);
            state.exp_avg.mul_(b1).add_(grad, oneMinusB1);
            state.exp_avg_sq.mul_(b2).addcmul_(grad, grad, oneMinusB2);
            using var sqrtBc2 = Math.Sqrt(bc2).ToScalar();
            using var stepSize = (-lr / bc1).ToScalar();
            var denom = state.exp_avg_sq.sqrt().div_(sqrtBc2).add_(epsS, ScalarOps.One);
            param.addcdiv_(state.exp_avg, denom, stepSize);
        }
    }, closure);
}

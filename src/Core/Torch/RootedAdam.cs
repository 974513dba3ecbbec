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
        using var update = new RootedAdamUpdate(beta1, beta2, eps, lr);
        foreach (var param in group.Parameters)
        {
            var grad = param.grad;
            if (grad is null) continue;
            var state = (State)_state[param.Handle];
            state.step += 1;
            if (wd == 0) { update.Apply(param, grad, state.exp_avg, state.exp_avg_sq, state.step); continue; }
            using var decayed = grad.add(param, decay); // coupled L2: the decay joins the gradient
            update.Apply(param, decayed, state.exp_avg, state.exp_avg_sq, state.step);
        }
    }, closure);
}

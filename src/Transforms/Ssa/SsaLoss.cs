using TorchSharp;
using static TorchSharp.torch;
using MLNetExtensions.Transforms.Segmentation;

namespace MLNetExtensions.Transforms.Ssa;

/// <summary>
/// The tensors the official <c>SSALoss</c> module carries: only its <c>criterion</c> (a DETR-style <c>SetCriterion</c>)
/// registers one, the persistent buffer <c>empty_weight</c>. Kept so official state dicts (which carry
/// <c>ssa_loss.criterion.empty_weight</c>) load strictly; the suite's SSA losses do not read it.
/// </summary>
public sealed class SsaLoss : nn.Module
{
    private readonly SetCriterion criterion;

    /// <summary>Creates the buffer holder for <paramref name="numClasses"/> classes.</summary>
    public SsaLoss(int numClasses) : base(nameof(SsaLoss))
    {
        criterion = new SetCriterion(numClasses);
        RegisterComponents();
    }

    /// <summary>The official <c>SetCriterion</c>'s buffers: <c>empty_weight</c> = K+1 ones with the no-object weight 0.1 last.</summary>
    private sealed class SetCriterion : nn.Module
    {
        /// <summary>Official <c>eos_coef</c>.</summary>
        private const float EosCoef = 0.1f;

        public SetCriterion(int numClasses) : base(nameof(SetCriterion))
        {
            var w = torch.ones(numClasses + 1);
            w[numClasses] = torch.tensor(EosCoef);
            register_buffer("empty_weight", w, persistent: true);
        }
    }
}

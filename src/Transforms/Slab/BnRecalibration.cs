using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Slab;

/// <summary>
/// End-of-training BatchNorm recalibration (SLAB §2.4, official <c>main.update_model</c>): with all weights frozen, only
/// the running statistics of the token BatchNorms are refreshed on training data (drop-path shifts the variance).
/// </summary>
public static class BnRecalibration
{
    /// <summary>
    /// Puts <paramref name="model"/> in eval mode (so PRepBN forwards are pure RepBN and dropout/drop-path are off)
    /// and every SafeBatchNorm1d back in train mode, so forwards update their running statistics. Run forwards under
    /// <c>torch.no_grad()</c> with no optimizer step, then call <c>model.eval()</c>. Returns the number of BatchNorms.
    /// </summary>
    public static int Begin(nn.Module model)
    {
        model.eval();
        int n = 0;
        foreach (var m in model.modules())
            if (m is SafeBatchNorm1d bn) { bn.train(); n++; }
        return n;
    }
}

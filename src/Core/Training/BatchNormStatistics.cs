using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Training;

/// <summary>
/// Re-estimates BatchNorm running statistics after training (as SWA's <c>update_bn</c>, and SLAB's end-of-training
/// recalibration). With momentum 0.1 the running variance still carries 0.9^steps of its initial value 1; in short
/// runs of networks whose activations are small (timm-style 0.02 init) that stale variance dominates and eval-mode
/// outputs collapse. Here every BatchNorm restarts its statistics as a cumulative average over training batches,
/// weights frozen, everything else in eval mode.
/// </summary>
public static class BatchNormStatistics
{
    /// <summary>Runs <paramref name="forwardBatches"/> with only BatchNorms updating; returns the number of BatchNorms.</summary>
    public static int Recalibrate(nn.Module model, IEnumerable<Action> forwardBatches)
    {
        var norms = model.modules().OfType<BatchNorm>().ToList(); // TorchSharp's and the Safe* ones
        if (norms.Count == 0) return 0;
        var saved = new List<double?>();
        model.eval();
        foreach (var m in norms)
        {
            saved.Add(m.momentum); m.reset_running_stats(); m.momentum = null;
            m.train();
        }
        try
        {
            using var _ = torch.no_grad();
            foreach (var f in forwardBatches)
            {
                using var scope = torch.NewDisposeScope();
                f();
            }
        }
        finally
        {
            for (int i = 0; i < norms.Count; i++)
                norms[i].momentum = saved[i];
            model.eval();
        }
        return norms.Count;
    }
}

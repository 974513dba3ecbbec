using MLNetExtensions.Core.Data.Binding;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Training;

/// <summary>
/// Says what went non-finite first when a training loss is NaN/±∞, so the message blames the right thing:
/// the batch's inputs (bad data), the weights (the previous update's gradients overflowed), or the forward pass
/// itself (finite inputs and weights, overflow inside the model — often inputs far outside the expected range).
/// </summary>
internal static class DivergenceDiagnosis
{
    /// <summary>The message for a non-finite <paramref name="loss"/> at the given position.</summary>
    public static string Explain(double loss, HostBatch batch, nn.Module model, int epoch, long step)
    {
        string where = $"Training diverged (loss is {loss}) at epoch {epoch}, step {step + 1}";
        foreach (var (name, buffer) in batch.Buffers)
        {
            if (buffer.Floats is not { } f) continue;
            int n = Math.Min(f.Length, batch.Count * buffer.RowSize);
            double maxAbs = 0;
            for (int i = 0; i < n; i++)
            {
                if (!float.IsFinite(f[i]))
                    return $"{where}: the inputs went non-finite first — input '{name}' holds {f[i]} at row {i / Math.Max(1, buffer.RowSize)} of the batch. Check the data.";
                maxAbs = Math.Max(maxAbs, Math.Abs(f[i]));
            }
            if (maxAbs > 1e6)
                return $"{where}: the inputs are finite but input '{name}' reaches |x| = {maxAbs:G3}, far outside what a network expects; " +
                       "the outputs overflowed in the forward pass. Check the data's scale (and the image Mean/Std).";
        }
        foreach (var (name, p) in model.named_parameters())
        {
            using var bad = p.isfinite().logical_not().any();
            if (bad.item<bool>())
                return $"{where}: the weights went non-finite first ('{name}'), i.e. the previous update's gradients overflowed; " +
                       "lower LearningRate or set GradientClipNorm.";
        }
        return $"{where}: inputs and weights are finite, so the forward pass or the loss overflowed; lower LearningRate, " +
               "set GradientClipNorm, or check the inputs' scale.";
    }
}

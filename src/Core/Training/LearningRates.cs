namespace MLNetExtensions.Core.Training;

/// <summary>Learning rate at a step: linear warm-up, then constant, cosine or linear decay (per step, as timm's step-wise schedulers).</summary>
public static class LearningRates
{
    public static double At(LearningRateSchedule schedule, double peak, double min, long step, long warmup, long total)
    {
        if (warmup > 0 && step < warmup) return peak * (step + 1) / warmup;
        if (schedule == LearningRateSchedule.Constant || total <= warmup) return peak;
        double t = Math.Clamp((step - warmup) / (double)Math.Max(1, total - warmup), 0, 1);
        return schedule switch
        {
            LearningRateSchedule.Cosine => min + 0.5 * (peak - min) * (1 + Math.Cos(Math.PI * t)),
            LearningRateSchedule.Linear => peak + (min - peak) * t,
            _ => peak,
        };
    }
}

using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Training;

/// <summary>
/// One per-parameter-group rule of <see cref="TorchTrainerOptions.ParameterGroups"/>: parameters whose full name starts
/// with <see cref="NamePrefix"/> train at <see cref="LearningRateMultiplier"/> × the scheduled learning rate and with
/// <see cref="WeightDecayMultiplier"/> × the weight decay (mmcv's <c>paramwise_cfg.custom_keys</c> lr_mult/decay_mult,
/// e.g. the mmseg recipes' <c>'head': dict(lr_mult=10.)</c>).
/// </summary>
/// <param name="NamePrefix">Start of the parameter names the rule applies to (e.g. <c>decode_head.</c>).</param>
/// <param name="LearningRateMultiplier">Factor on the scheduled learning rate (warm-up and decay keep the ratio).</param>
/// <param name="WeightDecayMultiplier">Factor on <see cref="TorchTrainerOptions.WeightDecay"/>.</param>
public sealed record ParameterGroupRule(string NamePrefix, double LearningRateMultiplier = 1, double WeightDecayMultiplier = 1);

/// <summary>Splits a model's trainable parameters into AdamW groups (weight-decay exemptions and <see cref="ParameterGroupRule"/>s).</summary>
public static class ParameterGroupBuilder
{
    /// <summary>
    /// AdamW groups for <paramref name="model"/> and each group's learning-rate multiplier. Biases and 1-D parameters
    /// (norm scales and shifts) never decay, as timm does. Without rules this is exactly two groups (decay, no decay);
    /// with rules, the first rule whose prefix matches a name decides its multipliers (unmatched names: 1, 1), and empty
    /// groups are left out. <paramref name="onlyPrefix"/> keeps only parameters under that name prefix (one of several optimisers).
    /// </summary>
    public static (List<AdamW.ParamGroup> Groups, double[] LearningRateMultipliers) Build(
        nn.Module model, double learningRate, double weightDecay, IReadOnlyList<ParameterGroupRule>? rules, string? onlyPrefix = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        rules ??= Array.Empty<ParameterGroupRule>();
        // Bucket index: rule index (rules.Count = no rule matched) × {decay, no decay}.
        var buckets = new List<Parameter>[2 * (rules.Count + 1)];
        for (int i = 0; i < buckets.Length; i++) buckets[i] = new List<Parameter>();
        foreach (var (name, p) in model.named_parameters())
        {
            if (!p.requires_grad) continue;
            if (onlyPrefix != null && !name.StartsWith(onlyPrefix, StringComparison.Ordinal)) continue; // another optimiser's
            int rule = rules.Count;
            for (int r = 0; r < rules.Count; r++)
                if (name.StartsWith(rules[r].NamePrefix, StringComparison.Ordinal)) { rule = r; break; }
            bool noDecay = p.dim() <= 1 || name.EndsWith(".bias", StringComparison.Ordinal);
            buckets[2 * rule + (noDecay ? 1 : 0)].Add(p);
        }
        var groups = new List<AdamW.ParamGroup>();
        var mults = new List<double>();
        for (int b = 0; b < buckets.Length; b++)
        {
            int rule = b / 2;
            bool isDefault = rule == rules.Count;
            if (!isDefault && buckets[b].Count == 0) continue;
            if (isDefault && rules.Count > 0 && buckets[b].Count == 0) continue; // the rule-free layout keeps both groups, as before
            double lrMult = isDefault ? 1 : rules[rule].LearningRateMultiplier;
            double wd = b % 2 == 1 ? 0 : weightDecay * (isDefault ? 1 : rules[rule].WeightDecayMultiplier);
            groups.Add(new AdamW.ParamGroup(buckets[b], new AdamW.Options { LearningRate = learningRate * lrMult, weight_decay = wd }));
            mults.Add(lrMult);
        }
        return (groups, mults.ToArray());
    }

    /// <summary>Throws (naming <paramref name="optionName"/>) unless every rule has a prefix and non-negative multipliers.</summary>
    public static void Validate(IReadOnlyList<ParameterGroupRule>? rules, string optionName)
    {
        if (rules == null) return;
        foreach (var r in rules)
        {
            if (r is null || string.IsNullOrEmpty(r.NamePrefix)) throw new ArgumentException("Every parameter-group rule needs a NamePrefix.", optionName);
            if (!(r.LearningRateMultiplier >= 0) || double.IsInfinity(r.LearningRateMultiplier))
                throw new ArgumentOutOfRangeException(optionName, r.LearningRateMultiplier, $"LearningRateMultiplier of '{r.NamePrefix}' must be a finite value ≥ 0.");
            if (!(r.WeightDecayMultiplier >= 0) || double.IsInfinity(r.WeightDecayMultiplier))
                throw new ArgumentOutOfRangeException(optionName, r.WeightDecayMultiplier, $"WeightDecayMultiplier of '{r.NamePrefix}' must be a finite value ≥ 0.");
        }
    }
}

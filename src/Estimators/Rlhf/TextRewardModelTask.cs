using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Models;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Transforms.Rlhf.RewardModels;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Estimators.Rlhf;

/// <summary>
/// Training task of both reward-model kinds. Fine-grained: cross-entropy at the response's separators against the
/// label vector (1 = error, 0 = no error; one label per separator, in order). Preference: −log σ(s_chosen − s_rejected).
/// Every validation (the trainer's <c>ValidateEveryNSteps</c>) appends a <see cref="RewardModelCheckpoint"/>.
/// </summary>
internal sealed class TextRewardModelTask : TrainingTask
{
    private readonly TrainingContext _c;
    private readonly TextRewardModelOptions _o;
    private readonly BatchStreamer _train;
    private readonly BatchStreamer? _valid;
    private readonly List<RewardModelCheckpoint> _history = new();
    private long _step;

    public TextRewardModelTask(TrainingContext context, TextRewardModelOptions options)
    {
        _c = context; _o = options;
        _train = new BatchStreamer(context.Data, context.Inputs, options.BatchSize);
        if (options.ValidationSet != null) _valid = new BatchStreamer(options.ValidationSet, context.ValidationInputs!, options.InferenceBatchSize);
        RowCount = context.Data.GetRowCount();
    }

    public IReadOnlyList<RewardModelCheckpoint> History => _history;
    /// <summary>Step → CPU weights of each recorded evaluation (only with KeepCheckpointWeights).</summary>
    public Dictionary<long, Dictionary<string, Tensor>> Weights { get; } = new();
    public override nn.Module Model => _c.Network.Module;
    public override long? RowCount { get; }
    private bool FineGrained => _o.Kind == TextRewardModelKind.FineGrained;

    public override void OnStep(long step, long totalSteps) => _step = step;

    public override IEnumerable<HostBatch> TrainBatches(Random? shuffle, CancellationToken token) =>
        _train.StreamChecked(shuffle, _o.ShuffleBufferSize, false, _o.LabelColumnName, "training data", token);

    /// <summary>Network inputs with <paramref name="responseSlot"/>'s tensors as the response.</summary>
    private Dictionary<string, Tensor> Inputs(HostBatch b, IReadOnlyList<InputSpec> specs, string responseSlot)
    {
        var all = ModelInputs.From(b, specs, _c.Device);
        var d = new Dictionary<string, Tensor>
        {
            [TextRewardNetwork.PromptSlot] = all[TextRewardNetwork.PromptSlot],
            [TextRewardNetwork.PromptSlot + TextRewardNetwork.MaskSuffix] = all[TextRewardNetwork.PromptSlot + TextRewardNetwork.MaskSuffix],
            [TextRewardNetwork.ResponseSlot] = all[responseSlot],
            [TextRewardNetwork.ResponseSlot + TextRewardNetwork.MaskSuffix] = all[responseSlot + TextRewardNetwork.MaskSuffix],
        };
        if (all.TryGetValue(TextRewardNetwork.ContextSlot, out var ctx))
        {
            d[TextRewardNetwork.ContextSlot] = ctx;
            d[TextRewardNetwork.ContextSlot + TextRewardNetwork.MaskSuffix] = all[TextRewardNetwork.ContextSlot + TextRewardNetwork.MaskSuffix];
        }
        return d;
    }

    public override void Forward(HostBatch batch) { }

    public override LossTerms Loss(HostBatch b)
    {
        if (!FineGrained)
        {
            var sw = _c.Network.Forward(Inputs(b, _c.Inputs, TextRewardModelTrainer.ChosenSlot))[TextRewardNetwork.ScoreOutput];
            var sl = _c.Network.Forward(Inputs(b, _c.Inputs, TextRewardModelTrainer.RejectedSlot))[TextRewardNetwork.ScoreOutput];
            return RewardModelLosses.Pairwise(sw, sl);
        }
        var o = _c.Network.Forward(Inputs(b, _c.Inputs, TextRewardNetwork.ResponseSlot));
        var targets = SeparatorTargets(b, o[TextRewardNetwork.SepMask], "training data");
        return RewardModelLosses.SeparatorCrossEntropy(o[TextRewardNetwork.TokenLogits], targets, o[TextRewardNetwork.SepMask]);
    }

    /// <summary>(B, Tr) int64 targets: the k-th separator of a row gets the row's k-th label; the counts must agree.</summary>
    private Tensor SeparatorTargets(HostBatch b, Tensor sepMask, string what)
    {
        var sep = sepMask.cpu().contiguous().data<bool>().ToArray();
        var labels = b[TextRewardModelTrainer.LabelSlot];
        int rows = b.Count, t = sep.Length / rows, maxLabels = _o.MaxSentences;
        var flat = labels.Floats!;
        var targets = new long[sep.Length];
        for (int r = 0; r < rows; r++)
        {
            int k = 0, n = labels.Lengths![r];
            for (int j = 0; j < t; j++)
            {
                if (!sep[r * t + j]) continue;
                if (k >= n) throw new InvalidOperationException($"Column '{_o.LabelColumnName}' ({what}): a row has {n} labels but its response '{_o.ResponseColumnName}' has more separators (one label per separator, in order; check ResponseMaxLength).");
                targets[r * t + j] = flat[r * maxLabels + k++] > 0.5f ? 1 : 0;
            }
            if (k != n) throw new InvalidOperationException($"Column '{_o.LabelColumnName}' ({what}): a row has {n} labels but {k} separators in '{_o.ResponseColumnName}' (one label per separator; a response cut by ResponseMaxLength loses separators).");
        }
        return torch.tensor(targets, new long[] { rows, t }, device: _c.Device);
    }

    public override double? Validate(CancellationToken token)
    {
        if (_valid == null) return null;
        var specs = _c.ValidationInputs!;
        long step = _step;
        RewardModelCheckpoint record;
        if (FineGrained)
        {
            var m = new SeparatorMetrics();
            foreach (var b in _valid.StreamChecked(null, 0, false, _o.LabelColumnName, "validation set", token))
            {
                using var scope = torch.NewDisposeScope();
                using var mode = torch.inference_mode();
                var o = _c.Network.Forward(Inputs(b, specs, TextRewardNetwork.ResponseSlot));
                var targets = SeparatorTargets(b, o[TextRewardNetwork.SepMask], "validation set").cpu().data<long>().ToArray();
                var pred = o[TextRewardNetwork.TokenLogits].argmax(-1).cpu().contiguous().data<long>().ToArray();
                var sep = o[TextRewardNetwork.SepMask].cpu().contiguous().data<bool>().ToArray();
                for (int i = 0; i < sep.Length; i++) if (sep[i]) m = m.Add(pred[i] == 1, targets[i] == 1);
            }
            record = new RewardModelCheckpoint(step, m.Accuracy, m.F1ErrorClass, m.PredictedErrorRate, m.Total);
        }
        else
        {
            long agree = 0, total = 0;
            foreach (var b in _valid.StreamChecked(null, 0, false, _o.LabelColumnName, "validation set", token))
            {
                using var scope = torch.NewDisposeScope();
                using var mode = torch.inference_mode();
                var sw = _c.Network.Forward(Inputs(b, specs, TextRewardModelTrainer.ChosenSlot))[TextRewardNetwork.ScoreOutput];
                var sl = _c.Network.Forward(Inputs(b, specs, TextRewardModelTrainer.RejectedSlot))[TextRewardNetwork.ScoreOutput];
                agree += sw.gt(sl).sum().item<long>();
                total += b.Count;
            }
            record = new RewardModelCheckpoint(step, total == 0 ? double.NaN : agree / (double)total, double.NaN, double.NaN, total);
        }
        // The loop also validates at an epoch end that may coincide with a step-interval validation: keep one per step.
        if (_history.Count > 0 && _history[^1].Step == step) _history[^1] = record; else _history.Add(record);
        if (_o.KeepCheckpointWeights)
        {
            if (Weights.Remove(step, out var old)) foreach (var t in old.Values) t.Dispose();
            var copy = new Dictionary<string, Tensor>();
            using (torch.no_grad())
                foreach (var (k, v) in _c.Network.Module.state_dict()) copy[k] = v.detach().cpu().clone().DetachFromDisposeScope();
            Weights[step] = copy;
        }
        return record.Accuracy;
    }

    /// <summary>μ and σ of the preference scores over every training answer (chosen and rejected), for normalisation.</summary>
    public (double Mean, double Std) ScoreStatistics(CancellationToken token)
    {
        var scores = new List<float>();
        foreach (var b in _train.StreamChecked(null, 0, false, _o.LabelColumnName, "training data", token))
        {
            using var scope = torch.NewDisposeScope();
            using var mode = torch.inference_mode();
            foreach (var slot in new[] { TextRewardModelTrainer.ChosenSlot, TextRewardModelTrainer.RejectedSlot })
                scores.AddRange(_c.Network.Forward(Inputs(b, _c.Inputs, slot))[TextRewardNetwork.ScoreOutput].cpu().data<float>().ToArray());
        }
        double mean = scores.Average(v => (double)v);
        double std = Math.Sqrt(scores.Sum(v => (v - mean) * (v - mean)) / Math.Max(1, scores.Count - 1));
        return (mean, std > 1e-8 ? std : 1.0);
    }
}

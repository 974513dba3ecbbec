using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Training;

/// <summary>
/// Multiclass cross-entropy (with the options' label smoothing) over any network whose forward writes
/// <see cref="TorchNetwork.LogitsSlot"/>, from the bound feature columns and a key label; validation accuracy. The task of
/// every classifier of the suite (images and clips alike).
/// </summary>
public sealed class ClassificationTask : TrainingTask
{
    private readonly TrainingContext _c;
    private readonly TorchTrainerOptions _o;
    private readonly BatchStreamer _train;
    private readonly BatchStreamer? _valid;
    private readonly InputSpec[] _features;
    private readonly string _labelSlot;
    private readonly Action<long, long>? _onStep;

    /// <summary>Creates the task; <paramref name="onStep"/> runs after every optimisation step (e.g. a PRepBN schedule).</summary>
    public ClassificationTask(TrainingContext context, TorchTrainerOptions options, Action<long, long>? onStep = null)
    {
        _c = context; _o = options; _onStep = onStep;
        _features = context.Inputs.Where(i => i.Role == InputRole.Feature).ToArray();
        _labelSlot = context.Inputs.OfType<KeyLabelInputSpec>().Single().Slot;
        _train = new BatchStreamer(context.Data, context.Inputs, options.BatchSize);
        if (options.ValidationSet != null) _valid = new BatchStreamer(options.ValidationSet, context.ValidationInputs!, options.InferenceBatchSize);
        RowCount = context.Data.GetRowCount();
    }

    /// <inheritdoc/>
    public override nn.Module Model => _c.Network.Module;
    /// <inheritdoc/>
    public override long? RowCount { get; }
    /// <inheritdoc/>
    public override long SkippedRows => _train.SkippedMissingLabels;

    /// <inheritdoc/>
    public override void OnStep(long step, long totalSteps) => _onStep?.Invoke(step, totalSteps);

    /// <inheritdoc/>
    public override IEnumerable<HostBatch> TrainBatches(Random? shuffle, CancellationToken token) =>
        _train.StreamChecked(shuffle, _o.ShuffleBufferSize, _o.SkipMissingLabels, _o.LabelColumnName, "training data", token);

    private Tensor Logits(HostBatch b, IEnumerable<InputSpec> features) =>
        _c.Network.Forward(ModelInputs.From(b, features, _c.Device))[TorchNetwork.LogitsSlot];

    /// <inheritdoc/>
    public override void Forward(HostBatch batch) => Logits(batch, _features);

    /// <inheritdoc/>
    public override LossTerms Loss(HostBatch b)
    {
        var y = b.Tensor(_labelSlot, _c.Device);
        return nn.functional.cross_entropy(Logits(b, _features), y, label_smoothing: _o.LabelSmoothing);
    }

    /// <inheritdoc/>
    public override double? Validate(CancellationToken token)
    {
        if (_valid == null) return null;
        var features = _c.ValidationInputs!.Where(i => i.Role == InputRole.Feature).ToArray();
        long correct = 0, total = 0;
        foreach (var b in _valid.StreamChecked(null, 0, _o.SkipMissingLabels, _o.LabelColumnName, "validation set", token))
        {
            using var scope = torch.NewDisposeScope();
            using var mode = torch.inference_mode();
            var pred = Logits(b, features).argmax(1).cpu().data<long>().ToArray();
            var labels = b[_labelSlot].Longs!;
            for (int i = 0; i < b.Count; i++) if (pred[i] == labels[i]) correct++;
            total += b.Count;
        }
        return total == 0 ? null : correct / (double)total;
    }
}

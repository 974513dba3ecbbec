using MLNetExtensions.Core.Torch;
using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Models;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Evaluators.Segmentation;
using MLNetExtensions.Transforms.GeminiFusion;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Estimators.GeminiFusion;

/// <summary>
/// GeminiFusion's plug-in for <see cref="TorchTrainingLoop"/>: per-modality batches, the official loss summed over the
/// branch outputs and the ensemble (terms <c>loss_branch{m}</c>, <c>loss_ensemble</c>), validation mIoU of the ensemble
/// (the official checkpoint criterion), and the official parameter groups (decoder ×10; <c>alpha</c> frozen unless asked).
/// </summary>
internal sealed class GeminiFusionTrainingTask : TrainingTask
{
    private readonly TrainingContext _c;
    private readonly GeminiFusionNetwork _model;
    private readonly GeminiFusionArchitecture _arch;
    private readonly BatchStreamer _train;
    private readonly BatchStreamer? _valid;
    private readonly GeminiFusionSegmenter.Options _o;
    private readonly InputSpec[] _features;

    public GeminiFusionTrainingTask(TrainingContext context, GeminiFusionSegmenter.Options o)
    {
        _c = context; _o = o;
        _model = (GeminiFusionNetwork)context.Network.Module;
        _features = context.Inputs.Where(i => i.Role == InputRole.Feature).ToArray();
        var first = context.Inputs.Take(o.Modalities.Length).ToArray();
        var (h, w) = Size(first);
        _arch = new GeminiFusionArchitecture(o.Backbone, o.Modalities.Length, o.EmbeddingDim, h, w, o.FreezeBatchNorm) { Ablation = o.Ablation };
        _train = new BatchStreamer(context.Data, context.Inputs, o.BatchSize);
        if (o.ValidationSet != null) _valid = new BatchStreamer(o.ValidationSet, context.ValidationInputs!, o.InferenceBatchSize);
        RowCount = context.Data.GetRowCount();
        if (!o.TrainEnsembleWeights) _model.Alpha.requires_grad_(false); // official main: alpha is in no optimiser group
    }

    private static (int, int) Size(IEnumerable<InputSpec> specs)
    {
        foreach (var s in specs)
        {
            if (s is ImageInputSpec { Height: int h, Width: int w }) return (h, w);
            if (s is FloatTensorInputSpec { Shape: { Length: >= 2 } sh }) return ((int)sh[^2], (int)sh[^1]);
        }
        throw new InvalidOperationException("No modality input gives the image size.");
    }

    public override nn.Module Model => _model;
    public override long? RowCount { get; }

    /// <summary>Official <c>get_param_groups</c>: the decoder at ×<see cref="GeminiFusionSegmenter.Options.DecoderLearningRateMultiplier"/>.</summary>
    public override IReadOnlyList<ParameterGroupRule> ParameterGroups => new[] { new ParameterGroupRule("decoder.", _o.DecoderLearningRateMultiplier) };

    public override IEnumerable<HostBatch> TrainBatches(Random? shuffle, CancellationToken token) => _train.Stream(shuffle, _o.ShuffleBufferSize, token);

    private Tensor[] Images(HostBatch b) => _arch.Images(ModelInputs.From(b, _features, _c.Device));

    public override void Forward(HostBatch batch) => _model.Run(Images(batch));

    public override LossTerms Loss(HostBatch b)
    {
        var y = b.Tensor("label", _c.Device).reshape(b.Count, _arch.Height, _arch.Width);
        var all = _model.Run(Images(b)).All;
        var terms = new Dictionary<string, Tensor>();
        Tensor? total = null;
        for (int i = 0; i < all.Length; i++)
        {
            var l = GeminiFusionNetwork.Loss(new[] { all[i] }, y);
            terms[i < all.Length - 1 ? $"loss_branch{i}" : "loss_ensemble"] = l.detach();
            total = total is null ? l : total.Plus(l);
        }
        return new LossTerms(total!, terms);
    }

    /// <summary>mIoU of the ensemble on the validation set (mmseg definition), predictions resized as at serving.</summary>
    public override double? Validate(CancellationToken token)
    {
        if (_valid == null) return null;
        var acc = new SegmentationMetricsAccumulator(_model.NumClasses);
        int plane = _arch.Height * _arch.Width;
        foreach (var b in _valid.Stream(null, 0, token))
        {
            using var scope = torch.NewDisposeScope();
            using var mode = torch.inference_mode();
            var logits = _arch.Outputs(_model.Run(Images(b)))[TorchNetwork.LogitsSlot];
            var pred = logits.argmax(1).to(torch.int32).cpu().data<int>().ToArray();
            var labels = b["label"].Longs!;
            for (int i = 0; i < b.Count; i++)
                acc.Add(pred.AsSpan(i * plane, plane), Array.ConvertAll(labels.AsSpan(i * plane, plane).ToArray(), v => (int)v));
        }
        return acc.Count == 0 ? null : acc.Compute().MeanIoU;
    }
}

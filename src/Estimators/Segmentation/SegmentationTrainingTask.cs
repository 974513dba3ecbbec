using Microsoft.ML;
using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Models;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Evaluators.Segmentation;
using MLNetExtensions.Transforms.Segmentation;
using TorchSharp;
using static TorchSharp.torch;
using MLNetExtensions.Transforms.Ssa;

namespace MLNetExtensions.Estimators.Segmentation;

/// <summary>The segmenter's plug-in for <see cref="TorchTrainingLoop"/>: image + mask batches, the head's loss terms, validation mIoU.</summary>
internal sealed class SegmentationTrainingTask : TrainingTask
{
    private readonly TrainingContext _c;
    private readonly SsaSegmentationNetwork _model;
    private readonly BatchStreamer _train;
    private readonly BatchStreamer? _valid;
    private readonly SsaSegmenter.Options _o;
    private readonly ImageInputSpec _image;
    private readonly int _h, _w;

    public SegmentationTrainingTask(TrainingContext context, SsaSegmenter.Options o)
    {
        _c = context; _o = o;
        _model = (SsaSegmentationNetwork)context.Network.Module;
        _image = (ImageInputSpec)context.Inputs[0];
        _h = _image.Height!.Value; _w = _image.Width!.Value;
        _train = new BatchStreamer(context.Data, context.Inputs, o.BatchSize);
        if (o.ValidationSet != null) _valid = new BatchStreamer(o.ValidationSet, context.ValidationInputs!, o.InferenceBatchSize);
        RowCount = context.Data.GetRowCount();
    }

    public override nn.Module Model => _model;
    public override long? RowCount { get; }
    /// <summary>The official recipe's head rule: every <c>decode_head.</c> parameter at HeadLearningRateMultiplier × lr.</summary>
    public override IReadOnlyList<ParameterGroupRule> ParameterGroups => new[] { new ParameterGroupRule("decode_head.", _o.HeadLearningRateMultiplier) };

    public override IEnumerable<HostBatch> TrainBatches(Random? shuffle, CancellationToken token) => _train.Stream(shuffle, _o.ShuffleBufferSize, token);

    private Tensor Images(HostBatch b) => _image.Normalize(b.Tensor(TorchNetwork.InputSlot, _c.Device));

    public override void Forward(HostBatch batch) => _model.call(Images(batch));

    public override LossTerms Loss(HostBatch b)
    {
        var y = b.Tensor("label", _c.Device).reshape(b.Count, _h, _w);
        var output = _model.Run(Images(b));
        var loss = _model.Loss(output, y);
        return new LossTerms(loss.Total, loss.Terms.ToDictionary(kv => kv.Key, kv => kv.Value));
    }

    /// <summary>mIoU on the validation set (mmseg definition).</summary>
    public override double? Validate(CancellationToken token)
    {
        if (_valid == null) return null;
        var acc = new SegmentationMetricsAccumulator(_model.NumClasses);
        int plane = _h * _w;
        foreach (var b in _valid.Stream(null, 0, token))
        {
            using var scope = torch.NewDisposeScope();
            using var mode = torch.inference_mode();
            var pred = _model.call(Images(b)).argmax(1).to(torch.int32).cpu().data<int>().ToArray();
            var labels = b["label"].Longs!;
            for (int i = 0; i < b.Count; i++)
                acc.Add(pred.AsSpan(i * plane, plane), Array.ConvertAll(labels.AsSpan(i * plane, plane).ToArray(), v => (int)v));
        }
        return acc.Count == 0 ? null : acc.Compute().MeanIoU;
    }
}

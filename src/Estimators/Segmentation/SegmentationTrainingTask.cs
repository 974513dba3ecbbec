using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Evaluators.Segmentation;
using MLNetExtensions.Transforms.Segmentation;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Estimators.Segmentation;

/// <summary>Reads a Vector&lt;Key&gt; label map as floats: key k → class k−1, missing key 0 → 255 (mmseg's ignore label).</summary>
internal sealed class MaskFiller : IRowFiller
{
    private readonly ValueGetter<VBuffer<uint>> _get;
    private VBuffer<uint> _buf;
    public MaskFiller(DataViewRow row, string column, int size)
    {
        _get = row.GetGetter<VBuffer<uint>>(row.Schema[column]);
        Size = size;
    }
    public int Size { get; }
    public void Fill(Span<float> dst)
    {
        _get(ref _buf);
        dst.Fill(255f);
        var vals = _buf.GetValues();
        var idx = _buf.GetIndices();
        for (int i = 0; i < vals.Length; i++)
            if (vals[i] != 0) dst[_buf.IsDense ? i : idx[i]] = vals[i] - 1;
    }
}

/// <summary>The segmenter's plug-in for <see cref="TorchTrainingLoop"/>: image + mask batches, the head's loss, validation mIoU.</summary>
internal sealed class SegmentationTrainingTask : ITrainingTask
{
    private readonly SsaSegmentationNetwork _model;
    private readonly BatchStreamer _train;
    private readonly BatchStreamer? _valid;
    private readonly SsaSegmenter.Options _o;
    private readonly Device _device;
    private readonly Tensor _mean, _std;
    private readonly int _h, _w;
    private readonly List<Dictionary<string, double>> _termSums = new();
    private readonly List<int> _termCounts = new();

    public SegmentationTrainingTask(SsaSegmentationNetwork model, IDataView data, ImageInput spec, SsaSegmenter.Options o, Device device)
    {
        _model = model; _o = o; _device = device; _h = spec.Height; _w = spec.Width;
        _train = Streamer(data, spec, o.BatchSize);
        if (o.ValidationSet != null)
        {
            var vs = ImageInput.Resolve(o.ValidationSet.Schema, o.ImageColumnName, 3, o.ImageChannels, o.ImageHeight, o.ImageWidth);
            _valid = Streamer(o.ValidationSet, vs, o.InferenceBatchSize);
        }
        _mean = torch.tensor(o.Mean, new long[] { 1, 3, 1, 1 }).to(device);
        _std = torch.tensor(o.Std, new long[] { 1, 3, 1, 1 }).to(device);
        RowCount = data.GetRowCount();
    }

    private BatchStreamer Streamer(IDataView data, ImageInput spec, int batch) =>
        new(data, new (string, Func<DataViewRow, IRowFiller>)[]
        {
            (spec.ColumnName, spec.CreateFiller),
            (_o.LabelColumnName, row => new MaskFiller(row, _o.LabelColumnName, spec.Height * spec.Width)),
        }, null, batch);

    public nn.Module Model => _model;
    public long? RowCount { get; }
    /// <summary>The official recipe's head rule: every <c>decode_head.</c> parameter at HeadLearningRateMultiplier × lr.</summary>
    public IReadOnlyList<ParameterGroupRule> ParameterGroups => new[] { new ParameterGroupRule("decode_head.", _o.HeadLearningRateMultiplier) };

    /// <summary>Per epoch, the mean of every named loss term.</summary>
    public IReadOnlyList<IReadOnlyDictionary<string, double>> TermHistory =>
        _termSums.Select((d, i) => (IReadOnlyDictionary<string, double>)d.ToDictionary(kv => kv.Key, kv => kv.Value / Math.Max(1, _termCounts[i]))).ToList();

    public IEnumerable<HostBatch> TrainBatches(Random? shuffle, CancellationToken token)
    {
        _termSums.Add(new Dictionary<string, double>());
        _termCounts.Add(0);
        return _train.Stream(shuffle, _o.ShuffleBufferSize, token);
    }

    private Tensor Images(HostBatch b) =>
        (torch.tensor(b.Inputs[0].AsSpan(0, b.Count * b.Sizes[0]).ToArray(), new long[] { b.Count, 3, _h, _w }).to(_device) - _mean) / _std;

    private static int[] Labels(HostBatch b, int row) =>
        Array.ConvertAll(b.Inputs[1].AsSpan(row * b.Sizes[1], b.Sizes[1]).ToArray(), v => (int)v);

    public Tensor Loss(HostBatch b)
    {
        var y = torch.tensor(b.Inputs[1].AsSpan(0, b.Count * b.Sizes[1]).ToArray(), new long[] { b.Count, _h, _w }).to(torch.int64).to(_device);
        var output = _model.Run(Images(b));
        var loss = _model.Loss(output, y);
        var sums = _termSums[^1];
        foreach (var (name, t) in loss.Terms) sums[name] = sums.GetValueOrDefault(name) + t.item<float>();
        _termCounts[^1]++;
        return loss.Total;
    }

    /// <summary>mIoU on the validation set (mmseg definition).</summary>
    public double? Validate(CancellationToken token)
    {
        if (_valid == null) return null;
        var acc = new SegmentationMetricsAccumulator(_model.NumClasses);
        foreach (var b in _valid.Stream(null, 0, token))
        {
            using var scope = torch.NewDisposeScope();
            using var mode = torch.inference_mode();
            var pred = _model.call(Images(b)).argmax(1).to(torch.int32).cpu().data<int>().ToArray();
            int plane = _h * _w;
            for (int i = 0; i < b.Count; i++) acc.Add(pred.AsSpan(i * plane, plane), Labels(b, i));
        }
        return acc.Count == 0 ? null : acc.Compute().MeanIoU;
    }
}

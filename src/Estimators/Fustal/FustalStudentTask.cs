using MLNetExtensions.Core.Torch;
using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Models;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Evaluators.TemporalLocalization;
using MLNetExtensions.Transforms.Fustal;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Estimators.Fustal;

/// <summary>
/// The student's training task (note fustal.md §5.1–5.2): random truncation (crop ratio, an action must keep ≥ 50 % of
/// its length), Gaussian input noise, ActionFormer label assignment, focal + DIoU + MIL loss; an EMA copy (a frozen
/// module of the loop) updated after every step; from <see cref="FustalStudent.Options.EmaSwitchEpoch"/> on, targets are
/// the EMA model's own post-processed predictions on the same truncated clip (score &gt; η', else the best one; a video
/// where it predicts nothing keeps its given targets). Random draws come from torch's generator, which the loop seeds per
/// epoch and step. Validation: average mAP of the (EMA) model against the validation set's target segment columns.
/// </summary>
internal sealed class FustalStudentTask : TrainingTask, IDisposable
{
    internal const string StartSlot = "target.start", EndSlot = "target.end", ClassSlot = "target.class", VideoLabelSlot = "labels";

    private readonly TrainingContext _c;
    private readonly FustalStudent.Options _o;
    private readonly BatchStreamer _train;
    private readonly BatchStreamer? _valid;
    private readonly TriDetStudent _net;
    private readonly TriDetStudent _ema;
    private readonly TriDetLoss _loss;
    private readonly TriDetConfig _config;
    private readonly Scalar _noise;
    private readonly StudentWithEma _pair;

    /// <summary>Student, EMA copy and the loop state the loss needs (positive-count EMA, global step) as buffers, so a checkpoint resumes all of it.</summary>
    private sealed class StudentWithEma : nn.Module
    {
        public StudentWithEma(TriDetStudent student, TriDetStudent ema) : base(nameof(StudentWithEma))
        {
            register_module("student", student);
            register_module("ema", ema);
            register_buffer("loss_normalizer", torch.tensor(100.0));
            register_buffer("step", torch.tensor(0L));
        }

        public double Normalizer
        {
            get => get_buffer("loss_normalizer")!.item<double>();
            set { using var v = torch.tensor(value); using (torch.no_grad()) get_buffer("loss_normalizer")!.copy_(v); }
        }

        public long Step
        {
            get => get_buffer("step")!.item<long>();
            set { using var v = torch.tensor(value); using (torch.no_grad()) get_buffer("step")!.copy_(v); }
        }
    }

    public FustalStudentTask(TrainingContext context, FustalStudent.Options options)
    {
        _c = context; _o = options;
        _net = (TriDetStudent)context.Network.Module;
        _config = _net.Config;
        _ema = new TriDetStudent(_config);
        _ema.load_state_dict(_net.state_dict());
        _ema.to(context.Device);
        foreach (var p in _ema.parameters()) p.requires_grad_(false);
        _pair = new StudentWithEma(_net, _ema);
        _loss = new TriDetLoss { MilWeight = options.MilWeight };
        _noise = options.InputNoise.ToScalar();
        _train = new BatchStreamer(context.Data, context.Inputs, options.BatchSize);
        if (options.ValidationSet != null) _valid = new BatchStreamer(options.ValidationSet, context.ValidationInputs!, options.InferenceBatchSize);
        RowCount = context.Data.GetRowCount();
    }

    /// <summary>The student and its EMA copy in one container, so checkpoints (and an exact resume) hold both; the EMA's parameters never train.</summary>
    public override nn.Module Model => _pair;
    public override long? RowCount { get; }
    public override long SkippedRows => _train.SkippedMissingLabels;
    /// <summary>Batches trained on EMA targets.</summary>
    public long EmaTargetBatches { get; private set; }

    private long StepsPerEpoch => Math.Max(1, ((RowCount ?? 1) + _o.BatchSize - 1) / _o.BatchSize);
    private bool EmaPhase => _o.EmaDistillation && _pair.Step >= _o.EmaSwitchEpoch * StepsPerEpoch;

    public override IEnumerable<HostBatch> TrainBatches(Random? shuffle, CancellationToken token) =>
        _train.StreamChecked(shuffle, _o.ShuffleBufferSize, _o.SkipMissingLabels, _o.LabelColumnName, "training data", token);

    public override void OnStep(long step, long totalSteps)
    {
        _pair.Step = step;
        using var scope = torch.NewDisposeScope();
        ModelEma.Update(_ema, _net, _o.EmaDecay);
    }

    /// <summary>The row's target segments in grid units.</summary>
    private List<TemporalProposal> Targets(HostBatch b, int r)
    {
        var s = b[StartSlot]; var e = b[EndSlot]; var c = b[ClassSlot];
        int n = s.Lengths![r];
        if (e.Lengths![r] != n || c.Lengths![r] != n)
            throw new InvalidOperationException($"A row has {n} starts ('{_o.TargetStartColumnName}'), {e.Lengths![r]} ends ('{_o.TargetEndColumnName}') and {c.Lengths[r]} classes ('{_o.TargetLabelColumnName}'); one per segment expected.");
        var sr = s.FloatRow(r); var er = e.FloatRow(r); var cr = c.LongRow(r);
        var list = new List<TemporalProposal>(n);
        for (int i = 0; i < n; i++)
        {
            if (er[i] < sr[i]) throw new InvalidOperationException($"Column '{_o.TargetEndColumnName}': a segment ends ({er[i]}) before it starts ({sr[i]}).");
            list.Add(new TemporalProposal((int)cr[i], 1, _o.Grid.ToGrid(sr[i]), _o.Grid.ToGrid(er[i])));
        }
        return list;
    }

    /// <summary>Random truncation of one video: (first grid point, length, targets shifted into the clip).</summary>
    private (int Start, int Length, List<TemporalProposal> Targets) Crop(int length, List<TemporalProposal> targets, float u1, float u2)
    {
        double ratio = _o.CropRatioMin + (_o.CropRatioMax - _o.CropRatioMin) * u1;
        int len = Math.Clamp((int)Math.Ceiling(ratio * length), 1, Math.Min(length, _o.MaxTrainLength));
        int start = Math.Min(length - len, (int)(u2 * (length - len + 1)));
        var kept = new List<TemporalProposal>();
        foreach (var t in targets)
        {
            double a = Math.Max(t.Start - start, 0), b = Math.Min(t.End - start, len);
            if (b - a > 0 && b - a >= 0.5 * (t.End - t.Start)) kept.Add(t with { Start = a, End = b });
        }
        // No action survives: train on the first clip of the same length instead (ActionFormer retries a few crops).
        if (kept.Count == 0 && targets.Count > 0 && start != 0) return Crop(length, targets, u1, 0);
        return (start, len, kept);
    }

    public override LossTerms Loss(HostBatch b)
    {
        var feats = b[TriDetStudent.FeaturesSlot];
        int d = _o.FeatureSize, rows = b.Count;
        using var u = torch.rand(rows, 2);
        var draws = u.data<float>().ToArray();
        var crops = new (int Start, int Length, List<TemporalProposal> Targets)[rows];
        for (int r = 0; r < rows; r++) crops[r] = Crop(feats.Lengths![r], Targets(b, r), draws[2 * r], draws[2 * r + 1]);
        int longest = crops.Max(c => c.Length);
        var x = new float[rows * longest * d];
        for (int r = 0; r < rows; r++) feats.FloatRow(r).Slice(crops[r].Start * d, crops[r].Length * d).CopyTo(x.AsSpan(r * longest * d));
        var input = torch.tensor(x, new long[] { rows, longest, d }).to(_c.Device);
        var lengths = torch.tensor(crops.Select(c => (long)c.Length).ToArray()).to(_c.Device);
        var noisy = _o.InputNoise > 0 ? input.Plus(torch.randn_like(input).mul(_noise)) : input;
        var outputs = _c.Network.Forward(new Dictionary<string, Tensor> { [TriDetStudent.FeaturesSlot] = noisy, [TriDetStudent.FeaturesSlot + HostBatch.LengthsSuffix] = lengths });

        var targets = crops.Select(c => c.Targets).ToArray();
        if (EmaPhase)
        {
            EmaTargetBatches++;
            using (torch.no_grad())
            {
                _ema.eval();
                var eo = _ema.call(new Dictionary<string, Tensor> { [TriDetStudent.FeaturesSlot] = input, [TriDetStudent.FeaturesSlot + HostBatch.LengthsSuffix] = lengths });
                var predicted = FustalStudentTransformer.Segments(eo, rows, _c.Classes, _o.Inference);
                for (int r = 0; r < rows; r++)
                {
                    var secs = predicted[r].Select(p => p with { Start = _o.Grid.ToSeconds(p.Start), End = _o.Grid.ToSeconds(p.End) }).ToList();
                    var t = EmaTargets.FromPredictions(secs, _o.Grid.Fps, _o.EmaTargetThreshold, _o.Grid.Stride, _o.Grid.Window);
                    if (t.Count > 0) targets[r] = t;
                }
            }
        }

        var points = outputs[TriDetStudent.PointsSlot].cpu().data<float>().ToArray();
        var strides = outputs[TriDetStudent.StridesSlot].cpu().data<float>().ToArray();
        int p = points.Length, k = _c.Classes;
        var cls = new float[rows * p * k]; var off = new float[rows * p * 2]; var assigned = new long[rows * p];
        for (int r = 0; r < rows; r++)
        {
            var (tc, to, ta) = TriDetTargets.Assign(targets[r], points, strides, _config);
            tc.CopyTo(cls, r * p * k); to.CopyTo(off, r * p * 2);
            for (int i = 0; i < p; i++) assigned[r * p + i] = ta[i];
        }
        var y = _o.MilWeight > 0 ? b.Tensor(VideoLabelSlot, _c.Device) : null;
        _loss.Normalizer = _pair.Normalizer;
        var (total, c1, reg, mil) = _loss.Compute(outputs,
            torch.tensor(cls, new long[] { rows, p, k }).to(_c.Device), torch.tensor(off, new long[] { rows, p, 2 }).to(_c.Device),
            torch.tensor(assigned, new long[] { rows, p }).to(_c.Device), y);
        _pair.Normalizer = _loss.Normalizer;
        return new LossTerms(total, new Dictionary<string, Tensor> { ["loss_cls"] = c1.detach(), ["loss_reg"] = reg.detach(), ["loss_mil"] = mil.detach() });
    }

    public override void Forward(HostBatch batch) =>
        _c.Network.Forward(ModelInputs.From(batch, new InputSpec[] { _c.Inputs[0] }, _c.Device));

    public override double? Validate(CancellationToken token)
    {
        if (_valid == null) return null;
        var model = _o.ServeEmaWeights ? _ema : _net;
        model.eval();
        var gt = new List<GroundTruthSegment>(); var pred = new List<PredictedSegment>();
        int video = 0;
        var feats = _c.ValidationInputs![0];
        foreach (var b in _valid.StreamChecked(null, 0, _o.SkipMissingLabels, _o.LabelColumnName, "validation set", token))
        {
            using var scope = torch.NewDisposeScope();
            using var mode = torch.inference_mode();
            var outputs = model.call(ModelInputs.From(b, new[] { feats }, _c.Device));
            var seg = FustalStudentTransformer.Segments(outputs, b.Count, _c.Classes, _o.Inference);
            for (int r = 0; r < b.Count; r++, video++)
            {
                var id = "v" + video;
                foreach (var t in Targets(b, r)) gt.Add(new GroundTruthSegment(id, t.Start, t.End, t.ClassIndex.ToString()));
                foreach (var s in seg[r]) pred.Add(new PredictedSegment(id, s.Start, s.End, s.ClassIndex.ToString(), s.Score));
            }
        }
        return gt.Count == 0 ? null : TemporalDetectionEvaluator.Evaluate(gt, pred).AverageMeanAveragePrecision;
    }

    /// <summary>Copies the EMA weights into <paramref name="module"/> (the served network).</summary>
    public void CopyEmaInto(nn.Module module)
    {
        using var scope = torch.NewDisposeScope();
        using (torch.no_grad()) module.load_state_dict(_ema.state_dict());
    }

    public void Dispose()
    {
        _ema.Dispose();
        _noise.Dispose();
    }
}

using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Models;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Transforms.Fustal;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Estimators.Fustal;

/// <summary>
/// The teacher's training task (note fustal.md §3.3–3.4): each video of a batch is resampled to T snippets with CoLA's
/// random perturbation (one snippet drawn per bin, from torch's generator so that the loop's per-epoch/per-step seeding
/// makes it reproducible and resumable), CoLA mines easy/hard snippets, and the loss is
/// <c>L_cls + λ·(L_IV + w/|P|·Σ L_CV)</c>. Validation: the fraction of videos whose predicted class set
/// (score ≥ the proposal class threshold) equals the label set — the only check video labels allow.
/// </summary>
internal sealed class FustalTeacherTask : TrainingTask
{
    private readonly TrainingContext _c;
    private readonly FustalTeacher.Options _o;
    private readonly BatchStreamer _train;
    private readonly BatchStreamer? _valid;
    private readonly CoLATeacherNetwork _net;
    private readonly SequenceInputSpec _feats;
    private readonly MultiHotInputSpec _labels;

    public FustalTeacherTask(TrainingContext context, FustalTeacher.Options options)
    {
        _c = context; _o = options;
        _net = (CoLATeacherNetwork)context.Network.Module;
        _feats = context.Inputs.OfType<SequenceInputSpec>().Single();
        _labels = context.Inputs.OfType<MultiHotInputSpec>().Single();
        _train = new BatchStreamer(context.Data, context.Inputs, options.BatchSize);
        if (options.ValidationSet != null) _valid = new BatchStreamer(options.ValidationSet, context.ValidationInputs!, options.InferenceBatchSize);
        RowCount = context.Data.GetRowCount();
    }

    public override nn.Module Model => _net;
    public override long? RowCount { get; }
    public override long SkippedRows => _train.SkippedMissingLabels;

    public override IEnumerable<HostBatch> TrainBatches(Random? shuffle, CancellationToken token) =>
        _train.StreamChecked(shuffle, _o.ShuffleBufferSize, _o.SkipMissingLabels, _o.LabelColumnName, "training data", token);

    /// <summary>(B, T, D) features resampled by CoLA's random perturbation (bins of the row's own length).</summary>
    private Tensor Resampled(HostBatch b)
    {
        var buffer = b[_feats.Slot];
        int t = _net.SampledLength, d = _feats.FeatureSize;
        var x = new float[b.Count * t * d];
        using var u = torch.rand(b.Count, t); // torch's generator: seeded by the loop per epoch and step
        var draws = u.data<float>().ToArray();
        for (int r = 0; r < b.Count; r++)
        {
            var idx = SnippetSampling.RandomPerturb(buffer.Lengths![r], t, draws.AsSpan(r * t, t));
            SnippetSampling.Gather(buffer.FloatRow(r), d, idx).CopyTo(x, r * t * d);
        }
        return tensor(x, new long[] { b.Count, t, d }).to(_c.Device);
    }

    public override LossTerms Loss(HostBatch b)
    {
        using var o = _net.Teacher.call(Resampled(b));
        var y = b.Tensor(_labels.Slot, _c.Device);
        var (total, cls, contrast, pairs) = CoLALoss.Total(o, y, _o.ContrastWeight, _o.CrossVideoWeight, _o.Temperature);
        return new LossTerms(total, new Dictionary<string, Tensor>
        {
            ["loss_cls"] = cls.detach(), ["loss_contrast"] = contrast.detach(), ["pairs"] = torch.tensor((float)pairs),
        });
    }

    public override void Forward(HostBatch batch) => _c.Network.Forward(ModelInputs.From(batch, new InputSpec[] { _feats }, _c.Device));

    public override double? Validate(CancellationToken token)
    {
        if (_valid == null) return null;
        var feats = _c.ValidationInputs!.OfType<SequenceInputSpec>().Single();
        var labelSlot = _c.ValidationInputs!.OfType<MultiHotInputSpec>().Single().Slot;
        long correct = 0, total = 0;
        int k = _c.Classes;
        foreach (var b in _valid.StreamChecked(null, 0, _o.SkipMissingLabels, _o.LabelColumnName, "validation set", token))
        {
            using var scope = torch.NewDisposeScope();
            using var mode = torch.inference_mode();
            var scores = _c.Network.Forward(ModelInputs.From(b, new InputSpec[] { feats }, _c.Device))[CoLATeacherNetwork.VideoScoresSlot].cpu().data<float>().ToArray();
            for (int r = 0; r < b.Count; r++)
            {
                var y = b[labelSlot].FloatRow(r);
                bool same = true;
                for (int c = 0; c < k; c++) same &= (scores[r * k + c] >= _o.Proposals.ClassThreshold) == (y[c] > 0);
                if (same) correct++;
            }
            total += b.Count;
        }
        return total == 0 ? null : correct / (double)total;
    }
}

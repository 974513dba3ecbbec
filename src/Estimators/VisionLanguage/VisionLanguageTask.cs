using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Models;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Transforms.Language;
using MLNetExtensions.Transforms.VisionLanguage;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Estimators.VisionLanguage;

/// <summary>
/// The VLM's training step: teacher-forced next-token cross-entropy on the answer tokens (answer + eos) of each row,
/// the vision tower frozen. Validation: exact-match accuracy of the greedy answers.
/// </summary>
public sealed class VisionLanguageTask : TrainingTask
{
    /// <summary>Slot of the answer ids (label).</summary>
    public const string AnswerSlot = "answer";
    private readonly TrainingContext _c;
    private readonly TorchTrainerOptions _o;
    private readonly BatchStreamer _train;
    private readonly BatchStreamer? _valid;

    /// <summary>Creates the task over the bound data.</summary>
    public VisionLanguageTask(TrainingContext context, TorchTrainerOptions options)
    {
        _c = context; _o = options;
        _train = new BatchStreamer(context.Data, context.Inputs, options.BatchSize);
        if (options.ValidationSet != null) _valid = new BatchStreamer(options.ValidationSet, context.ValidationInputs!, options.InferenceBatchSize);
        RowCount = context.Data.GetRowCount();
    }

    private MiniVlm Vlm => (MiniVlm)_c.Network.Module;

    /// <inheritdoc/>
    public override nn.Module Model => _c.Network.Module;
    /// <inheritdoc/>
    public override long? RowCount { get; }

    /// <inheritdoc/>
    public override IEnumerable<HostBatch> TrainBatches(Random? shuffle, CancellationToken token) =>
        _train.StreamChecked(shuffle, _o.ShuffleBufferSize, false, _o.LabelColumnName, "training data", token);

    /// <summary>Real (unpadded) id rows of a token slot.</summary>
    internal static long[][] Rows(HostBatch b, string slot)
    {
        var buf = b[slot];
        return Enumerable.Range(0, b.Count).Select(r =>
        {
            var row = buf.LongRow(r); var mask = b[slot + TokenInputSpec.MaskSuffix].LongRow(r);
            int n = 0; while (n < row.Length && mask[n] != 0) n++;
            return row.Slice(0, n).ToArray();
        }).ToArray();
    }

    /// <summary>The student-side forward of a batch with teacher forcing: outputs, spliced targets and loss mask.</summary>
    public static (VlmOutput Output, Tensor Targets, Tensor LossMask) TeacherForced(MiniVlm vlm, HostBatch b, Device device, bool attention)
    {
        // No own dispose scope: the outputs live in the caller's (the training loop's per-step scope).
        int n = vlm.Config.VisionTokens;
        var (ids, mask, targets, loss, t) = VqaEncoding.TeacherForcing(Rows(b, MiniVlm.PromptSlot), Rows(b, AnswerSlot), n);
        var grid = vlm.VisionGrid(b.Tensor(MiniVlm.ImageSlot, device));
        long rows = b.Count, l = t - 1 + n;
        var o = vlm.Run(grid, tensor(ids, new long[] { rows, t }, device: device), tensor(mask, new long[] { rows, t }, device: device), attention);
        var tt = tensor(targets, new long[] { rows, l }, device: device);
        var lm = tensor(loss, new long[] { rows, l }, device: device);
        return (o, tt, lm);
    }

    /// <inheritdoc/>
    public override LossTerms Loss(HostBatch batch)
    {
        var (o, targets, loss) = TeacherForced(Vlm, batch, _c.Device, false);
        using (o) return TokenLogProbs.NextTokenLoss(o.Logits, targets, loss);
    }

    /// <inheritdoc/>
    public override void Forward(HostBatch batch)
    {
        var (o, _, _) = TeacherForced(Vlm, batch, _c.Device, false);
        o.Dispose();
    }

    /// <inheritdoc/>
    public override double? Validate(CancellationToken token)
    {
        if (_valid == null) return null;
        var features = _c.ValidationInputs!.Where(i => i.Role == InputRole.Feature).ToArray();
        long correct = 0, total = 0;
        foreach (var b in _valid.StreamChecked(null, 0, false, _o.LabelColumnName, "validation set", token))
        {
            using var scope = NewDisposeScope();
            var outputs = _c.Network.Forward(ModelInputs.From(b, features, _c.Device));
            var pred = outputs[MiniVlm.AnswerIdsSlot].cpu().data<long>().ToArray();
            long k = outputs[MiniVlm.AnswerIdsSlot].shape[1];
            var answers = Rows(b, AnswerSlot);
            for (int r = 0; r < b.Count; r++)
            {
                var p = pred.AsSpan((int)(r * k), (int)k).ToArray();
                int end = Array.IndexOf(p, (long)Core.Text.TextTokenizer.EosId);
                var got = end >= 0 ? p.Take(end + 1).ToArray() : p;
                if (got.SequenceEqual(answers[r])) correct++;
            }
            total += b.Count;
        }
        return total == 0 ? null : correct / (double)total;
    }
}

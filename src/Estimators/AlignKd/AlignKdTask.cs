using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Estimators.VisionLanguage;
using MLNetExtensions.Transforms.AlignKd;
using MLNetExtensions.Transforms.VisionLanguage;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Estimators.AlignKd;

/// <summary>
/// One Align-KD step: the teacher's logits, Z^T and layer-0 A^T under no-grad, the student's teacher-forced forward
/// with its layer-0 attention, and the objective's terms. The trained module is the student plus the adapters (the
/// learnable ones train; the code-faithful frozen ones have no gradient); only the student is served.
/// </summary>
public sealed class AlignKdTask : TrainingTask
{
    private readonly TrainingContext _c;
    private readonly TorchTrainerOptions _o;
    private readonly MiniVlm _teacher;
    private readonly AlignKdAdapters _adapters;
    private readonly BatchStreamer _train;
    private readonly Trained _model;

    /// <summary>The trained container: <c>student.*</c> and <c>adapters.*</c>.</summary>
    private sealed class Trained : nn.Module
    {
        private readonly MiniVlm student;
        private readonly AlignKdAdapters adapters;
        public Trained(MiniVlm s, AlignKdAdapters a) : base("AlignKdTrained") { student = s; adapters = a; RegisterComponents(); }
    }

    /// <summary>Creates the task.</summary>
    public AlignKdTask(TrainingContext context, TorchTrainerOptions options, MiniVlm teacher, AlignKdAdapters adapters)
    {
        _c = context; _o = options; _teacher = teacher; _adapters = adapters;
        _train = new BatchStreamer(context.Data, context.Inputs, options.BatchSize);
        _model = new Trained((MiniVlm)context.Network.Module, adapters);
        RowCount = context.Data.GetRowCount();
    }

    /// <inheritdoc/>
    public override nn.Module Model => _model;
    /// <inheritdoc/>
    public override IReadOnlyList<nn.Module> FrozenModules => new nn.Module[] { _teacher };
    /// <inheritdoc/>
    public override long? RowCount { get; }

    /// <inheritdoc/>
    public override IEnumerable<HostBatch> TrainBatches(Random? shuffle, CancellationToken token) =>
        _train.StreamChecked(shuffle, _o.ShuffleBufferSize, false, _o.LabelColumnName, "training data", token);

    /// <inheritdoc/>
    public override LossTerms Loss(HostBatch batch)
    {
        TeacherOutputs teacher;
        using (no_grad())
        {
            var (t, _, _) = VisionLanguageTask.TeacherForced(_teacher, batch, _c.Device, true);
            teacher = new TeacherOutputs(t.Logits.detach(), t.VisionTokens.detach(), t.Attention!.detach());
        }
        var (s, targets, loss) = VisionLanguageTask.TeacherForced((MiniVlm)_c.Network.Module, batch, _c.Device, true);
        var terms = AlignKdObjective.Compute(s, teacher, targets, loss, _adapters);
        return new LossTerms(terms["total"], terms.Where(kv => kv.Key != "total").ToDictionary(kv => kv.Key, kv => kv.Value));
    }

    /// <inheritdoc/>
    public override void Forward(HostBatch batch) => VisionLanguageTask.TeacherForced((MiniVlm)_c.Network.Module, batch, _c.Device, false).Output.Dispose();

    /// <inheritdoc/>
    public override double? Validate(CancellationToken token) => null;
}

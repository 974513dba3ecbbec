using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Interop;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Training;

/// <summary>What a component plugs into the shared training loop.</summary>
public interface ITrainingTask
{
    /// <summary>The module being trained (already on the device).</summary>
    nn.Module Model { get; }
    /// <summary>Streams training batches for one epoch.</summary>
    IEnumerable<HostBatch> TrainBatches(Random? shuffle, CancellationToken token);
    /// <summary>Forward + loss for one batch (called inside a dispose scope, model in train mode).</summary>
    Tensor Loss(HostBatch batch);
    /// <summary>Validation metric (higher is better), model in eval mode; null when there is no validation set.</summary>
    double? Validate(CancellationToken token);
    /// <summary>Number of training rows if known without a pass.</summary>
    long? RowCount { get; }
    /// <summary>Called after every optimisation step with the global step (e.g. PRepBN schedules).</summary>
    void OnStep(long step, long totalSteps) { }
    /// <summary>Whether <see cref="Forward"/> is implemented (tasks without it skip BatchNorm re-estimation).</summary>
    bool CanForward => false;
    /// <summary>Forward only (no loss), used to re-estimate BatchNorm statistics.</summary>
    void Forward(HostBatch batch) => throw new NotSupportedException();
    /// <summary>
    /// The component's own per-parameter-group rules (e.g. a segmentation recipe's ×10 head learning rate); they apply
    /// after <see cref="TorchTrainerOptions.ParameterGroups"/>, so the user's rules win where both match. Default none.
    /// </summary>
    IReadOnlyList<ParameterGroupRule>? ParameterGroups => null;
}

/// <summary>Result of a run.</summary>
public sealed record TrainingSummary(int EpochsRun, long Steps, double LastTrainLoss, double? BestValidationMetric, int? BestEpoch,
    bool StoppedEarly, bool Resumed, IReadOnlyList<TrainingProgress> History);

/// <summary>
/// The shared epoch/step loop: AdamW with decoupled weight decay (none on biases and norm parameters, as timm) and
/// optional per-group learning-rate/weight-decay multipliers (<see cref="TorchTrainerOptions.ParameterGroups"/>),
/// per-step LR schedule, one dispose scope per step, gradient clipping, validation, early stopping with best-weight
/// restore, atomic checkpoints with resume, progress, MLContext logging and cancellation.
/// </summary>
public sealed class TorchTrainingLoop
{
    private readonly IHost _host;
    private readonly TorchTrainerOptions _o;
    private readonly int _seed;

    public TorchTrainingLoop(IHost host, TorchTrainerOptions options, int seed)
    {
        _host = host; _o = options; _seed = seed;
        Torch.ConvolutionBackend.EnsureCorrect();
    }

    public TrainingSummary Run(ITrainingTask task)
    {
        using var ch = _host.Start("Train");
        var model = task.Model;
        var sw = Stopwatch.StartNew();
        var history = new List<TrainingProgress>();
        var (groups, lrMultipliers) = ParameterGroupBuilder.Build(model, _o.LearningRate, _o.WeightDecay,
            (_o.ParameterGroups ?? Array.Empty<ParameterGroupRule>()).Concat(task.ParameterGroups ?? Array.Empty<ParameterGroupRule>()).ToList());
        using var opt = optim.AdamW(groups, _o.LearningRate);

        long? stepsPerEpoch = task.RowCount is long rows ? (rows + _o.BatchSize - 1) / _o.BatchSize : null;
        int startEpoch = 1; long step = 0; double? best = null; int? bestEpoch = null; int sinceBest = 0;
        Dictionary<string, Tensor>? bestWeights = null;
        bool resumed = false;
        ITrainingCheckpointStore? store = _o.CheckpointDirectory == null ? null
            : _o.ExcpCheckpoints != null ? new ExcpTrainingCheckpointStore(_o.CheckpointDirectory, _o.ExcpCheckpoints, startNewChain: !_o.ResumeFromCheckpoint)
            : new TrainingCheckpointStore(_o.CheckpointDirectory);
        if (store != null && _o.ResumeFromCheckpoint && store.TryLoadLatest(model, opt, out var state))
        {
            startEpoch = state.Epoch + 1; step = state.Step; best = state.BestMetric; bestEpoch = state.BestEpoch;
            sinceBest = state.EpochsSinceBest; stepsPerEpoch ??= state.StepsPerEpoch; resumed = true;
            if (best != null) bestWeights = store.TryLoadBest();
            ch.Info(MessageSensitivity.None, $"Resumed from checkpoint after epoch {state.Epoch} (step {step}).");
        }

        double lastLoss = double.NaN; bool stoppedEarly = false; int epoch = startEpoch - 1;
        try
        {
            for (epoch = startEpoch; epoch <= _o.MaxEpochs; epoch++)
            {
                model.train();
                // Per-epoch seeds make a resumed run shuffle and drop out exactly like an uninterrupted one.
                torch.manual_seed(_seed + 7919L * epoch);
                var shuffle = _o.Shuffle ? new Random(unchecked(_seed * 31 + epoch)) : null;
                double lossSum = 0; long lossCount = 0, epochSteps = 0;
                foreach (var batch in task.TrainBatches(shuffle, _o.CancellationToken))
                {
                    CheckCanceled();
                    long total = (stepsPerEpoch ?? long.MaxValue / 4) * _o.MaxEpochs;
                    double lr = LearningRates.At(_o.Schedule, _o.LearningRate, _o.MinLearningRate, step, _o.WarmupSteps, total);
                    int gi = 0;
                    foreach (var g in opt.ParamGroups) g.LearningRate = lr * lrMultipliers[gi++]; // multipliers ride the schedule
                    using (var scope = torch.NewDisposeScope())
                    {
                        opt.zero_grad();
                        var loss = task.Loss(batch);
                        loss.backward();
                        if (_o.GradientClipNorm > 0) nn.utils.clip_grad_norm_(model.parameters(), _o.GradientClipNorm);
                        opt.step();
                        lastLoss = loss.item<float>();
                    }
                    if (double.IsNaN(lastLoss)) throw new InvalidOperationException($"Training diverged (loss is NaN) at epoch {epoch}, step {step + 1}; lower LearningRate.");
                    lossSum += lastLoss * batch.Count; lossCount += batch.Count; step++; epochSteps++;
                    task.OnStep(step, total);
                    if (_o.LogEveryNSteps > 0 && step % _o.LogEveryNSteps == 0)
                    {
                        var p = new TrainingProgress(epoch, step, stepsPerEpoch, lossSum / lossCount, lr, null, false, sw.Elapsed);
                        ch.Trace(MessageSensitivity.None, $"epoch {epoch} step {step}: loss {p.TrainLoss:F4} lr {lr:E2}");
                        _o.Progress?.Report(p);
                    }
                }
                if (lossCount == 0) throw new InvalidOperationException($"The training data yielded no rows with a label in column '{_o.LabelColumnName}'.");
                stepsPerEpoch ??= epochSteps;

                double? metric = null;
                if (_o.ValidationSet != null)
                {
                    model.eval();
                    metric = task.Validate(_o.CancellationToken);
                    model.train();
                }
                var report = new TrainingProgress(epoch, step, stepsPerEpoch, lossSum / lossCount,
                    LearningRates.At(_o.Schedule, _o.LearningRate, _o.MinLearningRate, step, _o.WarmupSteps, stepsPerEpoch.Value * _o.MaxEpochs),
                    metric, true, sw.Elapsed);
                history.Add(report);
                ch.Info(MessageSensitivity.None, $"epoch {epoch}/{_o.MaxEpochs}: loss {report.TrainLoss:F4}" +
                    (metric != null ? $", validation {metric:F4}" : "") + $", lr {report.LearningRate:E2}, {sw.Elapsed.TotalSeconds:F1}s");
                _o.Progress?.Report(report);

                bool improved = metric != null && (best == null || metric > best + _o.EarlyStoppingMinDelta);
                if (improved)
                {
                    best = metric; bestEpoch = epoch; sinceBest = 0;
                    if (_o.RestoreBestWeights) { DisposeAll(bestWeights); bestWeights = CopyWeights(model); }
                }
                else if (metric != null) sinceBest++;

                store?.Save(model, opt, new TrainingCheckpointState(epoch, step, stepsPerEpoch, best, bestEpoch, sinceBest), improved ? bestWeights : null);

                if (_o.EarlyStoppingPatience is int pat && sinceBest >= pat)
                {
                    ch.Info(MessageSensitivity.None, $"Early stopping after epoch {epoch}: no validation improvement for {pat} epochs (best {best:F4} at epoch {bestEpoch}).");
                    stoppedEarly = true;
                    break;
                }
            }
            if (bestWeights != null && _o.RestoreBestWeights && bestEpoch != null)
            {
                using (torch.no_grad())
                {
                    var device = model.parameters().FirstOrDefault()?.device ?? torch.CPU;
                    var sd = model.state_dict();
                    foreach (var (k, v) in bestWeights) sd[k].copy_(v.to(device));
                }
                ch.Info(MessageSensitivity.None, $"Restored the weights of epoch {bestEpoch} (validation {best:F4}).");
            }
            if (_o.BatchNormRecalibrationBatches > 0 && task.CanForward)
            {
                var batches = task.TrainBatches(new Random(_seed), _o.CancellationToken).Take(_o.BatchNormRecalibrationBatches);
                int norms = BatchNormStatistics.Recalibrate(model, batches.Select(b => (Action)(() => task.Forward(b))));
                if (norms > 0)
                    ch.Info(MessageSensitivity.None, $"Re-estimated the statistics of {norms} BatchNorm layers over {_o.BatchNormRecalibrationBatches} batches.");
            }
        }
        finally
        {
            DisposeAll(bestWeights);
        }
        model.eval();
        return new TrainingSummary(Math.Min(epoch, _o.MaxEpochs), step, lastLoss, best, bestEpoch, stoppedEarly, resumed, history);
    }

    private void CheckCanceled()
    {
        _o.CancellationToken.ThrowIfCancellationRequested();
        if (MLNetInternals.IsCanceled(_host)) throw new OperationCanceledException("Training was cancelled through the MLContext.");
    }

    private static Dictionary<string, Tensor> CopyWeights(nn.Module model)
    {
        var d = new Dictionary<string, Tensor>();
        foreach (var (k, v) in model.state_dict()) d[k] = v.detach().cpu().clone();
        return d;
    }

    private static void DisposeAll(Dictionary<string, Tensor>? d)
    {
        if (d == null) return;
        foreach (var t in d.Values) t.Dispose();
        d.Clear();
    }
}

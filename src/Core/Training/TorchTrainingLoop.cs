using System.Diagnostics;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Interop;
using TorchSharp;
using MLNetExtensions.Core.Torch;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Training;

/// <summary>Result of a run.</summary>
/// <param name="EpochsRun">Epochs trained (the last one may be partial after cancellation).</param>
/// <param name="Steps">Optimisation steps.</param>
/// <param name="LastTrainLoss">Loss of the last batch.</param>
/// <param name="BestValidationMetric">Best validation metric (null without validation).</param>
/// <param name="BestEpoch">Epoch of the best metric.</param>
/// <param name="StoppedEarly">Early stopping ended the run.</param>
/// <param name="Resumed">The run started from a checkpoint.</param>
/// <param name="History">Every end-of-epoch (and step-interval validation) report.</param>
public sealed record TrainingSummary(int EpochsRun, long Steps, double LastTrainLoss, double? BestValidationMetric, int? BestEpoch,
    bool StoppedEarly, bool Resumed, IReadOnlyList<TrainingProgress> History)
{
    /// <summary>BatchNorm layers whose statistics were re-estimated after training (0 = none were, or the model has none).</summary>
    public int BatchNormLayersRecalibrated { get; init; }
}

/// <summary>
/// The shared step loop: one or more AdamW optimisers (<see cref="TrainingTask.Optimizers"/>) with decoupled weight decay
/// (none on biases and norm parameters, as timm) and per-group multipliers, per-step LR schedule, gradient accumulation,
/// one dispose scope per micro-batch, gradient clipping, validation and checkpoints per epoch and every N steps, early
/// stopping with best-weight restore, atomic checkpoints with exact resume (mid-epoch too), loss terms by name,
/// progress, MLContext logging, cancellation, frozen modules kept frozen, and BatchNorm re-estimation.
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

    private sealed record Optimiser(OptimizerGroup Group, AdamW Adam, double[] LrMultipliers);

    public TrainingSummary Run(TrainingTask task)
    {
        using var ch = _host.Start("Train");
        var model = task.Model;
        foreach (var frozen in task.FrozenModules)
        {
            frozen.eval();
            foreach (var p in frozen.parameters()) p.requires_grad_(false);
        }
        var sw = Stopwatch.StartNew();
        var history = new List<TrainingProgress>();
        var rules = (_o.ParameterGroups ?? Array.Empty<ParameterGroupRule>()).Concat(task.ParameterGroups ?? Array.Empty<ParameterGroupRule>()).ToList();
        var optimisers = new List<Optimiser>();
        foreach (var g in task.Optimizers)
        {
            double lr0 = _o.LearningRate * g.LearningRateMultiplier;
            var (groups, mults) = ParameterGroupBuilder.Build(model, lr0, g.WeightDecay ?? _o.WeightDecay, rules, g.ParameterPrefix.Length == 0 ? null : g.ParameterPrefix);
            if (groups.Count == 0) throw new InvalidOperationException($"Optimiser '{g.Name}' has no trainable parameter under prefix '{g.ParameterPrefix}'.");
            optimisers.Add(new Optimiser(g, new RootedAdamW(groups, lr0), mults.Select(m => m * g.LearningRateMultiplier).ToArray()));
        }
        var helpers = optimisers.Select(x => (OptimizerHelper)x.Adam).ToList();
        int accumulate = _o.GradientAccumulationSteps;

        long? stepsPerEpoch = task.RowCount is long rows ? (rows + (long)_o.BatchSize * accumulate - 1) / ((long)_o.BatchSize * accumulate) : null;
        int startEpoch = 1, skipBatches = 0; long step = 0; double? best = null; int? bestEpoch = null; int sinceBest = 0;
        Dictionary<string, Tensor>? bestWeights = null;
        bool resumed = false;
        ITrainingCheckpointStore? store = _o.CheckpointDirectory == null ? null
            : _o.CheckpointFormat?.Open(_o.CheckpointDirectory, _o.ResumeFromCheckpoint) ?? new TrainingCheckpointStore(_o.CheckpointDirectory);
        if (store != null && _o.ResumeFromCheckpoint && store.TryLoadLatest(model, helpers, out var state))
        {
            step = state.Step; best = state.BestMetric; bestEpoch = state.BestEpoch; sinceBest = state.EpochsSinceBest;
            stepsPerEpoch ??= state.StepsPerEpoch; resumed = true;
            if (state.BatchesInEpoch > 0) { startEpoch = state.Epoch; skipBatches = state.BatchesInEpoch; }
            else startEpoch = state.Epoch + 1;
            if (best != null) bestWeights = store.TryLoadBest();
            ch.Info(MessageSensitivity.None, state.BatchesInEpoch > 0
                ? $"Resumed from checkpoint in epoch {state.Epoch} after {state.BatchesInEpoch} batches (step {step})."
                : $"Resumed from checkpoint after epoch {state.Epoch} (step {step}).");
        }

        double lastLoss = double.NaN; bool stoppedEarly = false; int epoch = startEpoch - 1; int recalibrated = 0;
        bool stepSeeds = _o.CheckpointEveryNSteps > 0;
        long rowsThisRun = 0, stepsThisRun = 0;
        // Throughput and ETA from this run's mean rates (a resumed run counts from the resume).
        TrainingProgress Rated(TrainingProgress p)
        {
            double secs = sw.Elapsed.TotalSeconds;
            TimeSpan? eta = stepsPerEpoch is long spe && stepsThisRun > 0
                ? TimeSpan.FromSeconds(Math.Max(0, spe * _o.MaxEpochs - p.Step) * secs / stepsThisRun) : null;
            return p with
            {
                RowsPerSecond = rowsThisRun > 0 && secs > 0 ? rowsThisRun / secs : null,
                StepsPerSecond = stepsThisRun > 0 && secs > 0 ? stepsThisRun / secs : null,
                EstimatedRemaining = eta,
            };
        }
        try
        {
            for (epoch = startEpoch; epoch <= _o.MaxEpochs; epoch++)
            {
                model.train();
                // Per-epoch seeds make a resumed run shuffle and drop out exactly like an uninterrupted one; with
                // step-interval checkpoints the dropout generator is also reseeded every step, so a mid-epoch resume is exact.
                torch.manual_seed(_seed + 7919L * epoch);
                var shuffle = _o.Shuffle ? new Random(unchecked(_seed * 31 + epoch)) : null;
                double lossSum = 0; long lossCount = 0, epochSteps = 0; int batchIndex = 0, micro = 0;
                var termSums = new Dictionary<string, double>(); int termBatches = 0;
                foreach (var batch in task.TrainBatches(shuffle, _o.CancellationToken))
                {
                    if (batchIndex < skipBatches) { batchIndex++; continue; } // trained before the interruption
                    CheckCanceled();
                    long total = (stepsPerEpoch ?? long.MaxValue / 4) * _o.MaxEpochs;
                    double lr = LearningRates.At(_o.Schedule, _o.LearningRate, _o.MinLearningRate, step, _o.WarmupSteps, total);
                    if (micro == 0)
                    {
                        if (stepSeeds) torch.manual_seed(_seed + 7919L * epoch + 104729L * (batchIndex + 1));
                        foreach (var op in optimisers)
                        {
                            int gi = 0;
                            foreach (var g in op.Adam.ParamGroups) g.LearningRate = lr * op.LrMultipliers[gi++]; // multipliers ride the schedule
                            op.Adam.zero_grad();
                        }
                    }
                    using (var scope = torch.NewDisposeScope())
                    {
                        var loss = task.Loss(batch);
                        (accumulate > 1 ? loss.Total.Over(accumulate) : loss.Total).backward();
                        lastLoss = loss.Total.item<float>();
                        if (loss.Terms != null)
                        {
                            foreach (var (name, t) in loss.Terms) termSums[name] = termSums.GetValueOrDefault(name) + t.item<float>();
                            termBatches++;
                        }
                    }
                    if (!double.IsFinite(lastLoss)) throw new InvalidOperationException(DivergenceDiagnosis.Explain(lastLoss, batch, model, epoch, step));
                    lossSum += lastLoss * batch.Count; lossCount += batch.Count; batchIndex++; rowsThisRun += batch.Count;
                    if (++micro < accumulate) continue;
                    micro = 0;
                    OptimiserStep(model, optimisers);
                    step++; epochSteps++; stepsThisRun++;
                    task.OnStep(step, total);
                    if (_o.LogEveryNSteps > 0 && step % _o.LogEveryNSteps == 0)
                    {
                        var p = Rated(new TrainingProgress(epoch, step, stepsPerEpoch, lossSum / lossCount, lr, null, false, sw.Elapsed) { LossTerms = Means(termSums, termBatches) });
                        ch.Trace(MessageSensitivity.None, $"epoch {epoch} step {step}: loss {p.TrainLoss:F4} lr {lr:E2}");
                        _o.Progress?.Report(p);
                    }
                    if (_o.ValidateEveryNSteps > 0 && step % _o.ValidateEveryNSteps == 0 && _o.ValidationSet != null)
                    {
                        var m = ValidateNow(task, model);
                        var p = Rated(new TrainingProgress(epoch, step, stepsPerEpoch, lossSum / lossCount, lr, m, false, sw.Elapsed) { LossTerms = Means(termSums, termBatches) });
                        history.Add(p);
                        _o.Progress?.Report(p);
                        ch.Info(MessageSensitivity.None, $"step {step}: validation {m:F4}");
                    }
                    if (_o.CheckpointEveryNSteps > 0 && step % _o.CheckpointEveryNSteps == 0)
                        store?.Save(model, helpers, new TrainingCheckpointState(epoch, step, stepsPerEpoch, best, bestEpoch, sinceBest, batchIndex), null);
                }
                if (micro > 0) { OptimiserStep(model, optimisers); step++; epochSteps++; stepsThisRun++; task.OnStep(step, (stepsPerEpoch ?? epochSteps) * _o.MaxEpochs); }
                if (lossCount == 0 && skipBatches == 0) throw new InvalidOperationException($"The training data yielded no rows with a label in column '{_o.LabelColumnName}'.");
                stepsPerEpoch ??= epochSteps;
                skipBatches = 0;

                double? metric = _o.ValidationSet != null ? ValidateNow(task, model) : null;
                var report = Rated(new TrainingProgress(epoch, step, stepsPerEpoch, lossCount > 0 ? lossSum / lossCount : double.NaN,
                    LearningRates.At(_o.Schedule, _o.LearningRate, _o.MinLearningRate, step, _o.WarmupSteps, stepsPerEpoch.Value * _o.MaxEpochs),
                    metric, true, sw.Elapsed) { LossTerms = Means(termSums, termBatches) });
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

                store?.Save(model, helpers, new TrainingCheckpointState(epoch, step, stepsPerEpoch, best, bestEpoch, sinceBest), improved ? bestWeights : null);

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
            if (_o.BatchNormRecalibrationBatches > 0)
            {
                var batches = task.TrainBatches(new Random(_seed), _o.CancellationToken).Take(_o.BatchNormRecalibrationBatches);
                recalibrated = BatchNormStatistics.Recalibrate(model, batches.Select(b => (Action)(() => task.Forward(b))));
                if (recalibrated > 0)
                    ch.Info(MessageSensitivity.None, $"Re-estimated the statistics of {recalibrated} BatchNorm layers over {_o.BatchNormRecalibrationBatches} batches.");
            }
        }
        finally
        {
            DisposeAll(bestWeights);
            foreach (var op in optimisers) op.Adam.Dispose();
        }
        model.eval();
        return new TrainingSummary(Math.Min(epoch, _o.MaxEpochs), step, lastLoss, best, bestEpoch, stoppedEarly, resumed, history)
            { BatchNormLayersRecalibrated = recalibrated };
    }

    private void OptimiserStep(nn.Module model, List<Optimiser> optimisers)
    {
        if (_o.GradientClipNorm > 0) nn.utils.clip_grad_norm_(model.parameters(), _o.GradientClipNorm);
        foreach (var op in optimisers) op.Adam.step();
    }

    private double? ValidateNow(TrainingTask task, nn.Module model)
    {
        model.eval();
        try { return task.Validate(_o.CancellationToken); }
        finally { model.train(); }
    }

    private static IReadOnlyDictionary<string, double>? Means(Dictionary<string, double> sums, int n) =>
        n == 0 ? null : sums.ToDictionary(kv => kv.Key, kv => kv.Value / n);

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

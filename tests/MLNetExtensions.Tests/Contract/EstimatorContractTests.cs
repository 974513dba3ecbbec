using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Tests.Infrastructure;
using TorchSharp;
using Xunit;

namespace MLNetExtensions.Tests.Contract;

/// <summary>
/// The contract every estimator of the suite keeps (one tiny-data factory each in <see cref="EstimatorRegistry"/>), with
/// the rules of ML.NET's own estimator workout (<c>TestEstimatorCore</c>): fit on tiny data; same seed → identical
/// outputs; cancel then resume = the uninterrupted run; save → load in this and in a fresh process with identical
/// outputs, through partial cursors and a binary data round trip; the PredictionEngine row path equals Transform; the
/// model applies without the label column; promised and delivered schemas agree both ways; missing columns are named and
/// bad input is rejected with ArgumentOutOfRangeException or InvalidOperationException only; BatchNorm re-estimation runs.
/// </summary>
[Collection("Contract")]
public class EstimatorContractTests
{
    static EstimatorContractTests() => torch.set_num_threads(1);

    private static ITransformer Fit(EstimatorCase c, MLContext ml, IDataView train, Action<TorchTrainerOptions>? configure = null) =>
        c.Create(ml, configure ?? (_ => { })).Fit(train);

    private static MLContext Ml() => new MLContext(seed: 1).RegisterMLNetExtensions();

    [Theory]
    [MemberData(nameof(EstimatorRegistry.Cases), MemberType = typeof(EstimatorRegistry))]
    public void SameSeedGivesIdenticalOutputsAndSchemasAgreeBothWays(EstimatorCase c)
    {
        var ml = Ml();
        var train = c.Train(ml); var test = c.Test(ml);
        var estimator = c.Create(ml, _ => { });
        var promised = estimator.GetOutputSchema(ContractAssert.SchemaShapeOf(train.Schema));
        using var a = (IDisposable)estimator.Fit(train);
        using var b = (IDisposable)Fit(c, ml, train);
        var ta = (ITransformer)a;
        ContractAssert.PromisedMatchesDelivered(promised, ta.GetOutputSchema(train.Schema));
        var outA = ContractAssert.Outputs(ta.Transform(test), test.Schema);
        Assert.All(outA.Values.SelectMany(v => v).SelectMany(v => v), v => Assert.True(double.IsFinite(v)));
        ContractAssert.Equal(outA, ContractAssert.Outputs(((ITransformer)b).Transform(test), test.Schema), "second fit with the same seed");
        if (c.HasBatchNorm)
        {
            var summary = ((ITorchTrainer)estimator).LastTrainingSummary!;
            Assert.True(summary.BatchNormLayersRecalibrated > 0, $"{c.Name}: BatchNorm re-estimation did not run (BatchNormRecalibrationBatches = 2)");
        }
    }

    [Theory]
    [MemberData(nameof(EstimatorRegistry.Cases), MemberType = typeof(EstimatorRegistry))]
    public void CancelThenResumeEqualsTheUninterruptedRun(EstimatorCase c)
    {
        var ml = Ml();
        var train = c.Train(ml); var test = c.Test(ml);
        var root = Path.Combine(Path.GetTempPath(), "contract-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var full = (IDisposable)Fit(c, ml, train, o => { o.CheckpointDirectory = Path.Combine(root, "full"); o.CheckpointEveryNSteps = 1; });
            var expected = ContractAssert.Outputs(((ITransformer)full).Transform(test), test.Schema);
            using var cts = new CancellationTokenSource();
            var dir = Path.Combine(root, "resumed");
            Assert.ThrowsAny<OperationCanceledException>(() => Fit(c, ml, train, o =>
            {
                o.CheckpointDirectory = dir; o.CheckpointEveryNSteps = 1; o.LogEveryNSteps = 1; o.CancellationToken = cts.Token;
                o.Progress = new SyncProgress(p => { if (p.Step == 3) cts.Cancel(); });
            }));
            var estimator = c.Create(ml, o => { o.CheckpointDirectory = dir; o.CheckpointEveryNSteps = 1; });
            using var resumed = (IDisposable)estimator.Fit(train);
            Assert.True(((ITorchTrainer)estimator).LastTrainingSummary!.Resumed);
            ContractAssert.Equal(expected, ContractAssert.Outputs(((ITransformer)resumed).Transform(test), test.Schema), "resumed after cancellation at step 3");
        }
        finally { if (Directory.Exists(root)) Directory.Delete(root, true); }
    }

    [Theory]
    [MemberData(nameof(EstimatorRegistry.Cases), MemberType = typeof(EstimatorRegistry))]
    public void SaveLoadHereAndInAFreshProcessGivesIdenticalOutputs(EstimatorCase c)
    {
        var ml = Ml();
        var train = c.Train(ml); var test = c.Test(ml);
        var root = Path.Combine(Path.GetTempPath(), "contract-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        try
        {
            using var model = (IDisposable)Fit(c, ml, train);
            var t = (ITransformer)model;
            var scored = t.Transform(test);
            var expected = ContractAssert.Outputs(scored, test.Schema);
            var zip = Path.Combine(root, "model.zip");
            ml.Model.Save(t, test.Schema, zip);
            // In process: same schema, same values, and a partial cursor (one output column) gives the same values.
            var loaded = ml.Model.Load(zip, out var schema);
            Assert.Equal(test.Schema.Select(x => x.Name), schema.Select(x => x.Name));
            var reScored = loaded.Transform(test);
            Assert.Equal(scored.Schema.Select(x => (x.Name, x.Type.ToString())), reScored.Schema.Select(x => (x.Name, x.Type.ToString())));
            ContractAssert.Equal(expected, ContractAssert.Outputs(reScored, test.Schema), "in-process reload");
            var first = expected.Keys.First();
            ContractAssert.Equal(new() { [first] = expected[first] }, ContractAssert.Outputs(reScored, test.Schema, new[] { first }), "partial cursor");
            (loaded as IDisposable)?.Dispose();
            // Fresh process, data through ML.NET's binary format.
            var idv = Path.Combine(root, "test.idv");
            using (var fs = File.Create(idv)) ml.Data.SaveAsBinary(ml.Transforms.DropColumns(c.Label).Fit(test).Transform(test), fs);
            var outFile = Path.Combine(root, "scores.bin");
            int rows = expected[first].Count;
            var psi = new ProcessStartInfo("dotnet", $"\"{LoadProbe.Path()}\" \"{zip}\" {rows} Score \"{outFile}\" \"binary:{idv}\"") { RedirectStandardError = true, RedirectStandardOutput = true };
            using var p = Process.Start(psi)!;
            var err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, $"fresh-process load failed: {err}");
            var bytes = File.ReadAllBytes(outFile);
            var fresh = Enumerable.Range(0, bytes.Length / 4).Select(i => (double)BitConverter.ToSingle(bytes, 4 * i)).ToArray();
            Assert.Equal(expected["Score"].SelectMany(v => v).ToArray(), fresh);
        }
        finally { Directory.Delete(root, true); }
    }

    [Theory]
    [MemberData(nameof(EstimatorRegistry.Cases), MemberType = typeof(EstimatorRegistry))]
    public void RowPathEqualsTransformAndTheModelAppliesWithoutTheLabel(EstimatorCase c)
    {
        var ml = Ml();
        var train = c.Train(ml); var test = c.Test(ml);
        using var model = (IDisposable)Fit(c, ml, train);
        var t = (ITransformer)model;
        var noLabel = ml.Transforms.DropColumns(c.Label).Fit(test).Transform(test);
        var expected = ContractAssert.Outputs(t.Transform(noLabel), noLabel.Schema);
        // Batch-1 forwards (what PredictionEngine runs) sum in another order than batched ones: equal to 1e-5, and
        // bit-identical to Transform with InferenceBatchSize 1.
        var torchModel = (MLNetExtensions.Core.Inference.TorchTransformerBase)t;
        int batch = torchModel.InferenceBatchSize;
        torchModel.InferenceBatchSize = 1;
        var single = ContractAssert.Outputs(t.Transform(noLabel), noLabel.Schema);
        torchModel.InferenceBatchSize = batch;
        // The PredictionEngine path: the row-to-row mapper, one row at a time.
        var mapper = t.GetRowToRowMapper(noLabel.Schema);
        var outCols = mapper.OutputSchema.Where(x => x.Index >= noLabel.Schema.Count).ToList();
        using var cursor = noLabel.GetRowCursor(mapper.GetDependencies(outCols));
        using var row = mapper.GetRow(cursor, outCols);
        var getter = ScoreGetter(row);
        int r = 0;
        while (cursor.MoveNext())
        {
            var got = getter();
            Assert.True(got.SequenceEqual(single["Score"][r]), $"row {r}: the row path differs from Transform at batch size 1");
            Assert.True(got.Zip(expected["Score"][r], (a, b) => Math.Abs(a - b)).Max() < 1e-5, $"row {r}: the row path differs from batched Transform by more than 1e-5");
            r++;
        }
        Assert.Equal(expected["Score"].Count, r);
    }

    [Theory]
    [MemberData(nameof(EstimatorRegistry.Cases), MemberType = typeof(EstimatorRegistry))]
    public void MissingAndMalformedColumnsAreNamedAndRejectedAsML_NETDoes(EstimatorCase c)
    {
        var ml = Ml();
        var train = c.Train(ml); var test = c.Test(ml);
        foreach (var col in c.Features.Append(c.Label))
        {
            var without = ml.Transforms.DropColumns(col).Fit(train).Transform(train);
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => c.Create(ml, _ => { }).Fit(without));
            Assert.Contains($"'{col}'", e.Message);
            var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => c.Create(ml, _ => { }).GetOutputSchema(ContractAssert.SchemaShapeOf(without.Schema)));
            Assert.Contains($"'{col}'", e2.Message);
            // Another type under the same name: the label where a feature is expected, a feature where the label is
            // (skipped where both have the same type, e.g. a question and an answer text column).
            var source = c.Label == col ? c.Features[0] : c.Label;
            if (train.Schema[source].Type.Equals(train.Schema[col].Type)) continue;
            var text = ml.Transforms.DropColumns(col).Append(ml.Transforms.CopyColumns(col, source))
                .Fit(train).Transform(train);
            if (!c.SwapSeenOnlyInData.Contains(col)) RejectedAsMlNet(() => c.Create(ml, _ => { }).GetOutputSchema(ContractAssert.SchemaShapeOf(text.Schema)), col);
            RejectedAsMlNet(() => c.Create(ml, _ => { }).Fit(text), col);
        }
        using var model = (IDisposable)Fit(c, ml, train, o => o.MaxEpochs = 1);
        var t = (ITransformer)model;
        // Wrong geometry for the fitted model: the first feature with half its values (text features have no geometry).
        var f = c.Features[0];
        if (test.Schema[f].Type is not VectorDataViewType { IsKnownSize: true } vectorType) return;
        var size = vectorType.Size;
        var wrong = ml.Data.LoadFromEnumerable(new[] { new HalfRow { X = new float[size / 2] } },
            SchemaDefinition.Create(typeof(HalfRow)).Also(d => { d["X"].ColumnName = f; d[f].ColumnType = new VectorDataViewType(NumberDataViewType.Single, size / 2); }));
        RejectedAsMlNet(() => t.GetOutputSchema(wrong.Schema), f);
        RejectedAsMlNet(() => t.Transform(wrong), f);
    }

    // Score is a vector (classifiers, segmenters) or a scalar (reward models).
    private static Func<double[]> ScoreGetter(DataViewRow row)
    {
        var col = row.Schema["Score"];
        if (col.Type is NumberDataViewType)
        {
            var g = row.GetGetter<float>(col); float f = 0;
            return () => { g(ref f); return new double[] { f }; };
        }
        var gv = row.GetGetter<VBuffer<float>>(col); VBuffer<float> v = default;
        return () => { gv(ref v); return v.DenseValues().Select(x => (double)x).ToArray(); };
    }

    private sealed class HalfRow { public float[] X { get; set; } = Array.Empty<float>(); }

    private static void RejectedAsMlNet(Action a, string column)
    {
        var e = Record.Exception(a);
        Assert.NotNull(e);
        Assert.True(e is ArgumentOutOfRangeException or InvalidOperationException, $"expected ArgumentOutOfRangeException or InvalidOperationException, got {e!.GetType().Name}: {e.Message}");
        Assert.Contains($"'{column}'", e.Message);
    }

    /// <summary>IProgress that reports on the training thread (Progress&lt;T&gt; posts to the thread pool).</summary>
    private sealed class SyncProgress : IProgress<TrainingProgress>
    {
        private readonly Action<TrainingProgress> _a;
        public SyncProgress(Action<TrainingProgress> a) => _a = a;
        public void Report(TrainingProgress value) => _a(value);
    }
}

internal static class SchemaDefinitionExtensions
{
    public static SchemaDefinition Also(this SchemaDefinition d, Action<SchemaDefinition> a) { a(d); return d; }
}

using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Tests.Infrastructure;
using MLNetExtensions.Transforms.Datasets;
using Xunit;

namespace MLNetExtensions.Tests.Core;

/// <summary>Issue 13: engines never dispose the shared model, disposal with forwards in flight, corrupt zips named at load.</summary>
public class ServingSafetyTests
{
    private sealed class PixelsRow { [VectorType(1, 28, 28)] public float[] Pixels { get; set; } = Array.Empty<float>(); }
    private sealed class Prediction { public float[] Score { get; set; } = Array.Empty<float>(); public uint PredictedLabel { get; set; } }

    private static (MLContext ml, IDataView train, IDataView test, string zip) SavedModel(int testRows, bool chain = false)
    {
        var ml = new MLContext(seed: 1).RegisterMLNetExtensions();
        var train = FashionMnist.Load(ml, FashionMnistSplit.Train, 200);
        var test = FashionMnist.Load(ml, FashionMnistSplit.Test, testRows);
        var trainer = new TestCnnTrainer(ml, new TestCnnTrainer.Options
        {
            ImageColumnName = "Pixels", MaxEpochs = 1, BatchSize = 32, LearningRate = 5e-3, Seed = 7,
            Mean = new[] { 0.5f, 0.5f, 0.5f }, Std = new[] { 0.5f, 0.5f, 0.5f }, LabelSmoothing = 0,
        });
        // chain: an ML.NET built-in before ours, so engines and the owner dispose through TransformerChain.
        ITransformer model = chain ? ml.Transforms.CopyColumns("Pixels", "Pixels").Append(trainer).Fit(train) : trainer.Fit(train);
        var zip = Path.Combine(Directory.CreateTempSubdirectory("mlx-serving").FullName, "model.zip");
        ml.Model.Save(model, train.Schema, zip);
        ((IDisposable)model).Dispose();
        return (ml, train, test, zip);
    }

    private static float[][] Scores(IDataView scored) =>
        scored.GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray();

    private static PixelsRow[] Rows(IDataView test) =>
        test.GetColumn<VBuffer<float>>("Pixels").Select(v => new PixelsRow { Pixels = v.DenseValues().ToArray() }).ToArray();

    [Fact]
    public void DisposingEnginesNeverDisposesTheSharedLoadedModel()
    {
        var (ml, _, test, zip) = SavedModel(200, chain: true);
        var loaded = ml.Model.Load(zip, out _);
        var expected = Scores(loaded.Transform(test));
        var rows = Rows(test);

        // One thread: dispose an engine (default options: OwnsTransformer = true), then the model still transforms.
        var pe = ml.Model.CreatePredictionEngine<PixelsRow, Prediction>(loaded);
        pe.Predict(rows[0]);
        pe.Dispose();
        Assert.Equal(expected, Scores(loaded.Transform(test)));

        // Eight threads × (engine from the one loaded model, 200 rows, dispose), bounded in time.
        var results = new float[8][][];
        var tasks = Enumerable.Range(0, 8).Select(t => Task.Factory.StartNew(() =>
        {
            using var e = ml.Model.CreatePredictionEngine<PixelsRow, Prediction>(loaded);
            results[t] = rows.Select(r => e.Predict(r).Score.ToArray()).ToArray();
        }, TaskCreationOptions.LongRunning)).ToArray();
        Assert.True(Task.WaitAll(tasks, TimeSpan.FromSeconds(120)), "engine threads hung");
        for (int t = 0; t < 8; t++)
            for (int i = 0; i < rows.Length; i++)
                for (int j = 0; j < 10; j++) Assert.True(Math.Abs(expected[i][j] - results[t][i][j]) < 1e-5, $"thread {t} row {i} class {j}");

        // Many short-lived engines (tiered JIT recompiles the callers meanwhile): the model survives all of them.
        for (int k = 0; k < 300; k++) CreatePredictDispose(ml, loaded, rows[k % rows.Length]);
        Assert.Equal(expected, Scores(loaded.Transform(test)));
        var inner = ((TransformerChain<ITransformer>)loaded).OfType<TorchTransformerBase>().Single();
        Assert.False(inner.IsDisposed);

        // The owner's dispose is real: later calls fail naming the model. (ML.NET's TransformerChain marks itself disposed
        // on the first engine's Dispose and ignores later calls, so an owner of a chain that served engines disposes our
        // transformer directly; otherwise its tensors are freed by their finalizers.)
        ((IDisposable)loaded).Dispose();
        inner.Dispose();
        Assert.True(inner.IsDisposed);
        var ex = Assert.Throws<ObjectDisposedException>(() => Scores(loaded.Transform(test)));
        Assert.Contains(nameof(TorchImageClassificationTransformer), ex.Message);
    }

    private static void CreatePredictDispose(MLContext ml, ITransformer model, PixelsRow row)
    {
        using var e = ml.Model.CreatePredictionEngine<PixelsRow, Prediction>(model);
        Assert.Equal(10, e.Predict(row).Score.Length);
    }

    [Fact]
    public void DisposingTheModelWithForwardsInFlightFinishesOrFailsThemCleanly()
    {
        var (ml, _, test, zip) = SavedModel(64);
        var loaded = ml.Model.Load(zip, out _);
        var rows = Rows(test);
        var started = new CountdownEvent(8);
        var errors = new System.Collections.Concurrent.ConcurrentBag<Exception>();
        var done = new int[8];
        var tasks = Enumerable.Range(0, 8).Select(t => Task.Factory.StartNew(() =>
        {
            try
            {
                using var e = ml.Model.CreatePredictionEngine<PixelsRow, Prediction>(loaded);
                e.Predict(rows[t]);
                started.Signal();
                for (int i = 0; i < 100_000; i++) { e.Predict(rows[i % rows.Length]); done[t]++; }
            }
            catch (Exception ex) { errors.Add(ex); }
        }, TaskCreationOptions.LongRunning)).ToArray();
        Assert.True(started.Wait(TimeSpan.FromSeconds(60)), "engines did not start");
        var disposer = Task.Run(() => ((IDisposable)loaded).Dispose());
        Assert.True(disposer.Wait(TimeSpan.FromSeconds(60)), "Dispose hung with forwards in flight");
        Assert.True(Task.WaitAll(tasks, TimeSpan.FromSeconds(60)), "a forward hung after Dispose");
        Assert.Equal(8, errors.Count); // every thread was stopped by the disposal, none finished 100k rows
        foreach (var ex in errors)
        {
            var ode = Assert.IsType<ObjectDisposedException>(ex);
            Assert.Contains(nameof(TorchImageClassificationTransformer), ode.Message);
        }
    }

    private static void Rewrite(string zip, string entrySuffix, Func<byte[], byte[]> change)
    {
        using var a = ZipFile.Open(zip, ZipArchiveMode.Update);
        var e = a.Entries.Single(x => x.FullName.EndsWith(entrySuffix, StringComparison.Ordinal));
        byte[] bytes;
        using (var s = e.Open()) { using var ms = new MemoryStream(); s.CopyTo(ms); bytes = ms.ToArray(); }
        var name = e.FullName;
        e.Delete();
        using var w = a.CreateEntry(name).Open();
        w.Write(change(bytes));
    }

    [Fact]
    public void AFlippedByteInTheWeightsStreamFailsAtLoadNamingTheStream()
    {
        var (ml, _, _, zip) = SavedModel(8);
        // Rewritten with a valid zip CRC: only the SHA-256 in the description can catch it.
        Rewrite(zip, TorchTransformerBase.WeightsStream, b => { b[b.Length - 7] ^= 0x10; return b; });
        var ex = Assert.ThrowsAny<Exception>(() => ml.Model.Load(zip, out _));
        var all = string.Join(" | ", Chain(ex).Select(e => e.Message));
        Assert.Contains(TorchTransformerBase.WeightsStream, all);
        Assert.Contains("SHA-256", all);
    }

    [Fact]
    public void AFlippedByteInsideTheZipFailsAtLoad()
    {
        var (ml, _, _, zip) = SavedModel(8);
        // Flip a byte inside the stored data of the weights entry (the zip CRC no longer matches).
        var bytes = File.ReadAllBytes(zip);
        long offset;
        using (var a = ZipFile.OpenRead(zip))
        {
            var e = a.Entries.Single(x => x.FullName.EndsWith(TorchTransformerBase.WeightsStream, StringComparison.Ordinal));
            offset = LocalDataOffset(bytes, e.FullName) + e.CompressedLength / 2;
        }
        bytes[offset] ^= 0x01;
        File.WriteAllBytes(zip, bytes);
        var ex = Assert.ThrowsAny<Exception>(() => ml.Model.Load(zip, out _));
        var all = string.Join(" | ", Chain(ex).Select(e => e.Message));
        Assert.Contains(TorchTransformerBase.WeightsStream, all);
        Assert.Contains("corrupt", all);
    }

    [Fact]
    public void AFlippedByteInAVersion1ZipFailsOnTheZipCrcNamingTheStream()
    {
        var ml = new MLContext(seed: 1).RegisterMLNetExtensions();
        var zip = Path.Combine(Directory.CreateTempSubdirectory("mlx-v1").FullName, "v1.zip");
        File.Copy(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "Contract", "Legacy", "image-classifier-v1.zip"), zip);
        var (bytes, offset) = StoredByteOf(zip, TorchTransformerBase.WeightsStream);
        bytes[offset] ^= 0x01;
        File.WriteAllBytes(zip, bytes);
        var all = string.Join(" | ", Chain(Assert.ThrowsAny<Exception>(() => ml.Model.Load(zip, out _))).Select(e => e.Message));
        Assert.Contains(TorchTransformerBase.WeightsStream, all);
        Assert.Contains("corrupt", all);
    }

    // A byte in the middle of an entry's data as it lies in the zip (compressed or stored).
    private static (byte[] Bytes, long Offset) StoredByteOf(string zip, string suffix)
    {
        var bytes = File.ReadAllBytes(zip);
        using var a = ZipFile.OpenRead(zip);
        var e = a.Entries.Single(x => x.FullName.EndsWith(suffix, StringComparison.Ordinal));
        return (bytes, LocalDataOffset(bytes, e.FullName) + e.CompressedLength / 2);
    }

    private static long LocalDataOffset(byte[] zip, string name)
    {
        var n = System.Text.Encoding.UTF8.GetBytes(name);
        for (int i = 0; i + 30 + n.Length < zip.Length; i++)
        {
            if (zip[i] != 0x50 || zip[i + 1] != 0x4b || zip[i + 2] != 3 || zip[i + 3] != 4) continue;
            int nameLen = BitConverter.ToUInt16(zip, i + 26), extra = BitConverter.ToUInt16(zip, i + 28);
            if (nameLen == n.Length && zip.AsSpan(i + 30, nameLen).SequenceEqual(n)) return i + 30 + nameLen + extra;
        }
        throw new InvalidOperationException($"entry {name} not found");
    }

    private static IEnumerable<Exception> Chain(Exception? e) { for (; e != null; e = e.InnerException) yield return e; }
}

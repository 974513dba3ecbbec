using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Core.Models;
using MLNetExtensions.Transforms.TinyViM;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Benchmarks;

/// <summary>
/// ML.NET overhead of batched <c>Transform</c> (issue 20, item 3): the same TinyViM model, the same batches, measured
/// interleaved in one process — (a) the bare module forward on ready tensors, (b) <c>Transform</c> over an IDataView
/// with an MLImage column, (c) over a float-vector column, both consumed through Score + PredictedLabel getters. Prints
/// the median of the rounds and Transform ÷ bare time. Usage:
/// <c>transform-overhead [--rows 1024] [--batch 64] [--rounds 7] [--threads 1] [--variant Tiny] [--size 64]</c>.
/// </summary>
internal static class TransformOverheadBench
{
    public static int Run(string[] argv)
    {
        var a = new BenchArgs(argv);
        int threads = a.Int("threads", 1), rows = a.Int("rows", 1024), batch = a.Int("batch", 64), rounds = a.Int("rounds", 7), size = a.Int("size", 64);
        string variant = a.Get("variant") ?? "Tiny";
        if (size != 64) throw new ArgumentException("transform-overhead: --size must be 64 (the image row class is declared 64×64).");
        torch.set_num_threads(threads);
        var inv = CultureInfo.InvariantCulture;
        string load0 = File.ReadAllText("/proc/loadavg").Split(' ')[0];

        torch.manual_seed(0);
        var net = new TinyViMModel(TinyViMConfig.Named(variant), 10, distillation: false);
        net.eval();
        float[] mean = [0.485f, 0.456f, 0.406f], std = [0.229f, 0.224f, 0.225f];
        var classes = Enumerable.Range(0, 10).Select(i => $"c{i}").ToArray();
        ModelDescription Describe(bool vector) => new(ModelTasks.Classifier, "TinyViM", "{}", 10, classes,
            [new ImageInputSpec("Image", TorchNetwork.InputSlot, 3) { Height = size, Width = size, IsVector = vector, SourceChannels = 3, Mean = mean, Std = std, Resolved = true }],
            ClassifierOutputs.For(10, "Score", "PredictedLabel")) { InferenceBatchSize = batch };
        var ml = new MLContext(seed: 0);
        // Both transformers share the module (the bench disposes it once at the end).
        var imgModel = new TorchImageClassificationTransformer(ml, Describe(false), TorchNetwork.Single(net), CPU);
        var vecModel = new TorchImageClassificationTransformer(ml, Describe(true), TorchNetwork.Single(net), CPU);

        // The same pixels three ways: planar floats in [0,1], RGBA MLImages, float vectors.
        var rng = new Random(0);
        int plane = size * size;
        var vecRows = new List<VecRow>(rows);
        var imgRows = new List<ImgRow>(rows);
        for (int r = 0; r < rows; r++)
        {
            var rgba = new byte[4 * plane];
            rng.NextBytes(rgba);
            var f = new float[3 * plane];
            for (int i = 0; i < plane; i++)
            {
                rgba[4 * i + 3] = 255;
                for (int c = 0; c < 3; c++) f[c * plane + i] = rgba[4 * i + c] / 255f;
            }
            vecRows.Add(new VecRow { Image = f });
            imgRows.Add(new ImgRow { Image = MLImage.CreateFromPixels(size, size, MLPixelFormat.Rgba32, rgba) });
        }
        var vecSchema = SchemaDefinition.Create(typeof(VecRow));
        vecSchema["Image"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 3, size, size);
        var vecView = ml.Data.LoadFromEnumerable(vecRows, vecSchema);
        var imgView = ml.Data.LoadFromEnumerable(imgRows); // [ImageType(64, 64)] on the row class

        // Bare: the normalised batches as ready tensors, the module called once per batch.
        var bareInputs = new List<Tensor>();
        using (torch.no_grad())
            for (int s = 0; s < rows; s += batch)
            {
                int n = Math.Min(batch, rows - s);
                var flat = new float[n * 3 * plane];
                for (int r = 0; r < n; r++) vecRows[s + r].Image.CopyTo(flat, r * 3 * plane);
                using var raw = torch.tensor(flat, new long[] { n, 3, size, size });
                using var m = torch.tensor(mean, new long[] { 1, 3, 1, 1 });
                using var sd = torch.tensor(std, new long[] { 1, 3, 1, 1 });
                bareInputs.Add(((raw - m) / sd).DetachFromDisposeScope());
            }
        void Bare()
        {
            foreach (var x in bareInputs)
            {
                using var scope = torch.NewDisposeScope();
                using var mode = torch.inference_mode();
                net.call(x);
            }
        }
        static void Consume(IDataView v)
        {
            using var cur = v.GetRowCursor(v.Schema.Where(c => c.Name is "Score" or "PredictedLabel"));
            var score = cur.GetGetter<VBuffer<float>>(v.Schema["Score"]);
            var key = cur.GetGetter<uint>(v.Schema["PredictedLabel"]);
            VBuffer<float> s = default; uint k = 0;
            while (cur.MoveNext()) { score(ref s); key(ref k); }
        }

        // Same outputs: Transform's Score equals softmax of the bare forward.
        float diff;
        using (torch.NewDisposeScope())
        using (torch.inference_mode())
        {
            var expect = net.call(bareInputs[0]).softmax(1).data<float>().ToArray();
            var got = vecModel.Transform(vecView).GetColumn<float[]>("Score").Take((int)bareInputs[0].shape[0]).SelectMany(x => x).ToArray();
            var gotImg = imgModel.Transform(imgView).GetColumn<float[]>("Score").Take((int)bareInputs[0].shape[0]).SelectMany(x => x).ToArray();
            diff = expect.Select((e, i) => Math.Max(Math.Abs(e - got[i]), Math.Abs(e - gotImg[i]))).Max();
        }

        var candidates = new (string Name, Action Run)[]
        {
            ("bare module forward", Bare),
            ("Transform, image column (MLImage)", () => Consume(imgModel.Transform(imgView))),
            ("Transform, float-vector column", () => Consume(vecModel.Transform(vecView))),
        };
        foreach (var c in candidates) c.Run(); // warm-up
        var t = candidates.Select(_ => new List<double>()).ToArray();
        for (int r = 0; r < rounds; r++)
            for (int i = 0; i < candidates.Length; i++)
            {
                var sw = Stopwatch.StartNew();
                candidates[i].Run();
                t[i].Add(sw.Elapsed.TotalMilliseconds);
            }
        string load1 = File.ReadAllText("/proc/loadavg").Split(' ')[0];
        double Med(List<double> l) { var s = l.OrderBy(v => v).ToList(); return s[s.Count / 2]; }
        double bare = Med(t[0]);
        Console.WriteLine($"# Transform overhead: TinyViM-{variant} {size}×{size}, batch {batch}, {rows} rows, {threads} thread(s), {rounds} interleaved rounds, prefetch {(imgModel.PrefetchInputs ? "on" : "off")}");
        Console.WriteLine($"load average {load0} → {load1} on {Environment.ProcessorCount} cores; max |Score − softmax(bare)| = {diff:E1}\n");
        Console.WriteLine("| path | median ms | min–max ms | rows/s | ÷ bare time | overhead |\n|---|---|---|---|---|---|");
        for (int i = 0; i < candidates.Length; i++)
        {
            double m = Med(t[i]);
            Console.WriteLine(string.Format(inv, "| {0} | {1:F0} | {2:F0}–{3:F0} | {4:F0} | {5:F3} | {6:+0.0;-0.0} % |",
                candidates[i].Name, m, t[i].Min(), t[i].Max(), rows / m * 1000, m / bare, (m / bare - 1) * 100));
        }
        // Per-round ratios (each against the bare run of its own round) are less sensitive to slow drifts in load.
        for (int i = 1; i < candidates.Length; i++)
            Console.WriteLine(string.Format(inv, "median of per-round ratios, {0}: {1:F3}", candidates[i].Name, Med(t[i].Zip(t[0], (x, y) => x / y).ToList())));
        foreach (var x in bareInputs) x.Dispose();
        net.Dispose();
        return 0;
    }

    private sealed class VecRow { public float[] Image { get; set; } = []; }
    private sealed class ImgRow { [Microsoft.ML.Transforms.Image.ImageType(64, 64)] public MLImage? Image { get; set; } }
}

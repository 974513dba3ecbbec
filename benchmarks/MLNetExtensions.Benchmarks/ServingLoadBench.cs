using System.Diagnostics;
using System.Net.Http;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Estimators.TinyViM;
using MLNetExtensions.Examples.Serving;
using MLNetExtensions.Transforms.Datasets;
using SkiaSharp;

namespace MLNetExtensions.Benchmarks;

/// <summary>
/// Load on the serving example over loopback: N concurrent clients × M image requests (bounded in count and by
/// --seconds), requests/s, p50/p95/p99 latency, RSS at start and end; then batch-1 PredictionEngine vs batched
/// Transform on the same images. Usage: <c>serving [--model ZIP] [--clients 8] [--requests 200] [--seconds 120]</c>.
/// Without --model a TinyViM Tiny (32×32) is trained for one epoch on 512 Fashion-MNIST images.
/// </summary>
internal static class ServingLoadBench
{
    public static int Run(string[] argv)
    {
        var a = new BenchArgs(argv);
        int clients = a.Int("clients", 8), requests = a.Int("requests", 200), seconds = a.Int("seconds", 120);
        var model = a.Get("model") ?? TrainTiny(a.Out);
        var pngs = TestPngs(256);
        long rssStart = Rss();

        var app = ServiceApp.Build(new[] { "--model", model, "--urls", "http://127.0.0.1:0", "--pool", clients.ToString() });
        app.StartAsync().GetAwaiter().GetResult();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        using var http = new HttpClient { BaseAddress = new Uri(address) };
        http.PostAsync("/predict", new ByteArrayContent(pngs[0])).GetAwaiter().GetResult(); // warm-up
        long rssLoaded = Rss();

        var latencies = new System.Collections.Concurrent.ConcurrentBag<double>();
        int failures = 0;
        var deadline = Stopwatch.StartNew();
        var wall = Stopwatch.StartNew();
        var tasks = Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            for (int k = 0; k < requests && deadline.Elapsed.TotalSeconds < seconds; k++)
            {
                var sw = Stopwatch.StartNew();
                using var resp = await http.PostAsync("/predict", new ByteArrayContent(pngs[(c * 31 + k) % pngs.Count]));
                _ = await resp.Content.ReadAsByteArrayAsync();
                if (!resp.IsSuccessStatusCode) Interlocked.Increment(ref failures);
                latencies.Add(sw.Elapsed.TotalMilliseconds);
            }
        })).ToArray();
        Task.WaitAll(tasks);
        double elapsed = wall.Elapsed.TotalSeconds;
        long rssEnd = Rss();
        app.StopAsync().GetAwaiter().GetResult();
        var l = latencies.OrderBy(x => x).ToArray();
        double P(double q) => l[Math.Min(l.Length - 1, (int)(q * l.Length))];

        // Batch-1 PredictionEngine vs batched Transform, same process, same images (decoded once).
        using var host = new ImageClassifierHost(model, 1);
        var images = pngs.Select(p => MLImage.CreateFromStream(new MemoryStream(p))).ToArray();
        double peMs = BenchArgs.MedianMs(3, () => { foreach (var i in images) host.Predict(i); });
        var ml = new MLContext().RegisterMLNetExtensions();
        var chain = ml.Model.Load(model, out _);
        var def = Microsoft.ML.Data.SchemaDefinition.Create(typeof(ImageRow));
        def[nameof(ImageRow.Image)].ColumnName = host.ImageColumn;
        var type = new Microsoft.ML.Transforms.Image.ImageDataViewType(28, 28);
        ImageClassifierHost.RegisterImageType(type);
        def[nameof(ImageRow.Image)].ColumnType = type;
        var rows = images.Select(i => new ImageRow { Image = i }).ToArray();
        double trMs = BenchArgs.MedianMs(3, () => _ = chain.Transform(ml.Data.LoadFromEnumerable(rows, def)).GetColumn<float[]>("Score").Count());

        Console.WriteLine($"| clients × requests | requests | failures | req/s | p50 ms | p95 ms | p99 ms | RSS start / loaded / end (MB) |");
        Console.WriteLine($"|---|---|---|---|---|---|---|---|");
        Console.WriteLine($"| {clients} × {requests} | {l.Length} | {failures} | {l.Length / elapsed:F0} | {P(0.50):F2} | {P(0.95):F2} | {P(0.99):F2} | {rssStart / 1e6:F0} / {rssLoaded / 1e6:F0} / {rssEnd / 1e6:F0} |");
        Console.WriteLine();
        Console.WriteLine($"| path ({images.Length} images) | images/s |");
        Console.WriteLine($"|---|---|");
        Console.WriteLine($"| PredictionEngine, batch 1 | {images.Length / (peMs / 1000):F0} |");
        Console.WriteLine($"| Transform, batched (InferenceBatchSize) | {images.Length / (trMs / 1000):F0} |");
        (chain as IDisposable)?.Dispose();
        return failures == 0 ? 0 : 1;
    }

    private static string TrainTiny(string outDir)
    {
        var path = Path.Combine(outDir, "serving-tinyvim-tiny.zip");
        if (File.Exists(path)) return path;
        var ml = new MLContext(seed: 0);
        var train = FashionMnist.Load(ml, FashionMnistSplit.Train, maxRows: 512);
        var pipeline = ml.Transforms.ResizeImages("Image", 32, 32, "Image")
            .Append(ml.MulticlassClassification.Trainers.TinyViM(new TinyViMClassifier.Options { Variant = "Tiny", MaxEpochs = 1, BatchSize = 64 }));
        var model = pipeline.Fit(train);
        ml.Model.Save(model, train.Schema, path);
        return path;
    }

    private static List<byte[]> TestPngs(int n)
    {
        var ml = new MLContext(seed: 0);
        var test = FashionMnist.Load(ml, FashionMnistSplit.Test, maxRows: n);
        var list = new List<byte[]>();
        using var cursor = test.GetRowCursor(test.Schema.Where(c => c.Name == "Image"));
        var get = cursor.GetGetter<MLImage>(test.Schema["Image"]);
        MLImage img = null!;
        while (cursor.MoveNext())
        {
            get(ref img);
            using var bmp = new SKBitmap(new SKImageInfo(img.Width, img.Height, SKColorType.Bgra8888, SKAlphaType.Unpremul));
            var px = img.Pixels.ToArray();
            System.Runtime.InteropServices.Marshal.Copy(px, 0, bmp.GetPixels(), px.Length);
            using var data = bmp.Encode(SKEncodedImageFormat.Png, 100);
            list.Add(data.ToArray());
        }
        return list;
    }

    private static long Rss() { using var p = Process.GetCurrentProcess(); p.Refresh(); return p.WorkingSet64; }
}

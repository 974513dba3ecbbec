using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Examples.Serving;
using Xunit;
using Xunit.Abstractions;

namespace MLNetExtensions.Tests.Serving;

/// <summary>Issue 13: 8 threads × 10,000 predictions on one loaded model — no error, same answers, flat memory.</summary>
public sealed class SoakTests : IClassFixture<ServingFixture>
{
    private readonly ServingFixture _f;
    private readonly ITestOutputHelper _out;
    public SoakTests(ServingFixture f, ITestOutputHelper output) { _f = f; _out = output; }

    [Fact]
    public void EightThreadsTenThousandPredictionsEach()
    {
        const int threads = 8, perThread = 10_000;
        using var host = new ImageClassifierHost(_f.ModelPath, poolSize: threads);
        var images = _f.Pngs.Select(p => MLImage.CreateFromStream(new MemoryStream(p))).ToArray();
        var reference = images.Select(i => host.Predict(i).Scores.Values.ToArray()).ToArray(); // single-threaded

        long done = 0;
        long rssSecondThousand = 0;
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var sw = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            try
            {
                for (int k = 0; k < perThread; k++)
                {
                    int i = (k * 7 + t * 13) % images.Length;
                    var s = host.Predict(images[i]).Scores.Values.ToArray();
                    if (!s.SequenceEqual(reference[i])) errors.Enqueue($"thread {t} row {k}: scores differ from the single-threaded run");
                    // The second thousand per thread on average: the warm-up is over.
                    if (Interlocked.Increment(ref done) == 2000L * threads)
                        Interlocked.Exchange(ref rssSecondThousand, Rss());
                }
            }
            catch (Exception e) { errors.Enqueue($"thread {t}: {e.GetType().Name}: {e.Message}"); }
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());
        long rssEnd = Rss();
        double growth = (rssEnd - rssSecondThousand) / (double)rssSecondThousand;
        _out.WriteLine($"{threads}×{perThread} predictions in {sw.Elapsed.TotalSeconds:F1} s ({threads * perThread / sw.Elapsed.TotalSeconds:F0}/s); " +
                       $"RSS {rssSecondThousand / 1e6:F0} MB after the 2nd thousand → {rssEnd / 1e6:F0} MB at the end ({growth:P1})");
        Assert.Empty(errors);
        Assert.Equal(threads * (long)perThread, done);
        Assert.True(growth < 0.10, $"RSS grew {growth:P1} between the second and the last thousand predictions");
        foreach (var i in images) i.Dispose();
    }

    private static long Rss()
    {
        using var p = Process.GetCurrentProcess();
        p.Refresh();
        return p.WorkingSet64;
    }
}

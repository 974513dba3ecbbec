using MLNetExtensions.Transforms.Excp;
using Xunit;

namespace MLNetExtensions.Tests.Excp;

public sealed class FaissKMeansTests
{
    [Fact]
    public void Mt19937_matches_the_standard_sequence()
    {
        // std::mt19937 with the default seed 5489: the 10000th output is 4123659995 (C++ standard, [rand.predef]).
        var mt = new Mt19937(5489);
        uint x = 0;
        for (int i = 0; i < 10000; i++) x = mt.Next();
        Assert.Equal(4123659995u, x);
    }

    [Fact]
    public void Degenerate_streams_go_through_the_empty_cluster_splits_and_terminate()
    {
        // Two distinct values only: faiss' init draws duplicates, clusters go empty and get split every iteration.
        var x = Enumerable.Range(0, 100).Select(i => i % 3 == 0 ? 2f : 1f).ToArray();
        var c = FaissKMeans1D.Train(x, 15);
        Assert.Equal(15, c.Length);
        Assert.All(c, v => Assert.True(Math.Abs(v - 1) < 0.05 || Math.Abs(v - 2) < 0.05, $"centroid {v}"));
        var labels = FaissKMeans1D.Assign(x, c);
        for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(c[labels[i]] - x[i]) < 0.05);

        // All values equal: every split halves the one populated cluster.
        var same = Enumerable.Repeat(0.5f, 40).ToArray();
        Assert.All(FaissKMeans1D.Train(same, 15), v => Assert.InRange(v, 0.49f, 0.51f));

        // Exactly k points: the points are the centroids (faiss' early exit).
        var k = Enumerable.Range(1, 15).Select(i => (float)i).ToArray();
        Assert.Equal(k, FaissKMeans1D.Train(k, 15));
        Assert.Throws<ArgumentException>(() => FaissKMeans1D.Train(new float[3], 15));
    }

    [Fact]
    public void Quantizer_keeps_small_values_in_float32_and_falls_back_to_raw_for_few_survivors()
    {
        // 15 levels far below float16's range: float32 codebooks keep them (k-means may merge neighbours: error ≤ one
        // level spacing), float16 flushes them to zero.
        var levels = Enumerable.Range(1, 15).Select(i => i * 1e-9f).ToArray();
        var x = Enumerable.Range(0, 300).Select(i => i % 4 == 0 ? 0f : levels[i % 15]).ToArray();
        var q32 = ExcpQuantizer.Quantize(x, 4, float16Codebook: false);
        var q16 = ExcpQuantizer.Quantize(x, 4, float16Codebook: true);
        Assert.Equal(StreamEncoding.Quantized, q32.Encoding);
        for (int i = 0; i < x.Length; i++)
        {
            Assert.Equal(x[i] == 0, q32.Codes![i] == 0);
            Assert.True(Math.Abs(q32[i] - x[i]) <= 1e-9f, $"{i}: {q32[i]} vs {x[i]}");
            if (x[i] != 0) Assert.NotEqual(0f, q32[i]);
        }
        Assert.True(x.Select((v, i) => v != 0 && q16[i] == 0).Count(b => b) > 150);
        Assert.True(q16.Codebook!.Count(v => v == 0) >= 13);
        // ≤ 15 nonzeros: raw fallback, exact.
        var few = new float[64]; few[3] = 0.25f; few[40] = -1e-12f;
        var r = ExcpQuantizer.Quantize(few, 4, true);
        Assert.Equal(StreamEncoding.Raw, r.Encoding);
        Assert.Equal(few, Enumerable.Range(0, 64).Select(i => r[i]).ToArray());
    }
}

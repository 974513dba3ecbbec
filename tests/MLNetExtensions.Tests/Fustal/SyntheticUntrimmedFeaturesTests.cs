using MLNetExtensions.Transforms.Fustal;
using Xunit;
using MLNetExtensions.Transforms.Datasets;

namespace MLNetExtensions.Tests.Fustal;

public sealed class SyntheticUntrimmedFeaturesTests
{
    private static readonly SyntheticUntrimmedOptions Small = new() { NumClasses = 4, FeatureDim = 16 };

    [Fact]
    public void VideosFollowTheNoteLayout()
    {
        var videos = SyntheticUntrimmedFeatures.Generate(40, videoSeed: 7, Small);
        Assert.Equal(40, videos.Count);
        Assert.Equal(40, videos.Select(v => v.Id).Distinct().Count());
        foreach (var v in videos)
        {
            Assert.InRange(v.Length, 200, 400);
            Assert.Equal(v.Length * 16, v.Features.Length);
            Assert.All(v.Features, f => Assert.True(float.IsFinite(f)));
            var classes = v.Instances.Select(i => i.ClassIndex).Distinct().ToArray();
            Assert.InRange(classes.Length, 1, 2);
            Assert.Equal(Enumerable.Range(0, 4).Select(c => classes.Contains(c) ? 1f : 0f), v.Labels); // labels = classes with an instance
            Assert.All(v.Instances, i => Assert.InRange(i.End - i.Start, 8, 40));
            Assert.All(classes, c => Assert.InRange(v.Instances.Count(i => i.ClassIndex == c), 1, 4));
            // Sorted, inside the video, and separated by a context gap.
            for (int k = 1; k < v.Instances.Count; k++) Assert.True(v.Instances[k].Start >= v.Instances[k - 1].End + 8);
            Assert.True(v.Instances[0].Start >= 4 && v.Instances[^1].End <= v.Length - 4);
        }
    }

    [Fact]
    public void SeedsAreReproducibleAndSplitsShareClassPrototypes()
    {
        var a = SyntheticUntrimmedFeatures.Generate(3, videoSeed: 1, Small);
        var b = SyntheticUntrimmedFeatures.Generate(3, videoSeed: 1, Small);
        Assert.Equal(a[2].Features, b[2].Features);
        Assert.Equal(a[2].Instances, b[2].Instances);
        var other = SyntheticUntrimmedFeatures.Generate(3, videoSeed: 2, Small);
        Assert.NotEqual(a[0].Features, other[0].Features);

        // A core snippet of class c is closer to the mean core of class c in another split than to other classes' cores.
        static float[] CoreMean(IEnumerable<SyntheticVideo> vs, int c)
        {
            var rows = vs.SelectMany(v => v.Instances.Where(i => i.ClassIndex == c).Select(i => (v, t: (i.Start + i.End) / 2))).ToList();
            return Enumerable.Range(0, 16).Select(j => rows.Average(r => r.v.Features[r.t * 16 + j])).ToArray();
        }
        var train = SyntheticUntrimmedFeatures.Generate(60, videoSeed: 3, Small);
        var test = SyntheticUntrimmedFeatures.Generate(60, videoSeed: 4, Small);
        for (int c = 0; c < 4; c++)
        {
            var mine = CoreMean(test, c);
            var dist = Enumerable.Range(0, 4).Select(k => CoreMean(train, k).Zip(mine, (x, y) => (x - y) * (x - y)).Sum()).ToArray();
            Assert.Equal(c, Array.IndexOf(dist, dist.Min()));
        }
    }

    [Fact]
    public void InvalidSettingsAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SyntheticUntrimmedFeatures.Generate(1, 0, new SyntheticUntrimmedOptions { MinLength = 30, MaxLength = 30 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => SyntheticUntrimmedFeatures.Generate(1, 0, new SyntheticUntrimmedOptions { MinInstanceLength = 10, MaxInstanceLength = 5 }));
    }

    [Fact]
    public void UniformSamplingKeepsShortVideosAndFloorsLongOnes()
    {
        Assert.Equal(new[] { 0, 1, 2 }, SnippetSampling.Uniform(3, 5));
        Assert.Equal(new[] { 0, 2, 5, 7 }, SnippetSampling.Uniform(10, 4)); // ⌊i·10/4⌋
    }

    [Fact]
    public void RandomPerturbDrawsOneSnippetPerBin()
    {
        var rng = new Random(1);
        for (int rep = 0; rep < 50; rep++)
        {
            var idx = SnippetSampling.RandomPerturb(10, 4, rng);
            Assert.InRange(idx[0], 0, 2); // [⌊0⌋, ⌊2.5⌋] inclusive
            Assert.InRange(idx[1], 2, 5);
            Assert.InRange(idx[2], 5, 7);
            Assert.InRange(idx[3], 7, 9); // the last bin runs to the end
        }
        Assert.Equal(Enumerable.Range(0, 6), SnippetSampling.RandomPerturb(6, 6, rng));
        var up = SnippetSampling.RandomPerturb(3, 6, rng); // shorter than T: snippets repeat, in order
        Assert.Equal(6, up.Length);
        Assert.True(up.Zip(up.Skip(1)).All(p => p.First <= p.Second + 1));
        Assert.Equal(new float[] { 3, 4, 1, 2 }, SnippetSampling.Gather(new float[] { 1, 2, 3, 4 }, 2, new[] { 1, 0 }));
    }
}

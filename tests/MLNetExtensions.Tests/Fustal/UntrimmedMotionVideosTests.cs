using MLNetExtensions.Transforms.Datasets.Video;
using Xunit;

namespace MLNetExtensions.Tests.Fustal;

/// <summary>The untrimmed real-image video generator (issue 16 item 6b): actions move the item, background does not.</summary>
public sealed class UntrimmedMotionVideosTests
{
    private static readonly UntrimmedMotionOptions Small = new(6, Seed: 4, MinFrames: 96, MaxFrames: 160, MinInstanceFrames: 16, MaxInstanceFrames: 40);

    // Frame t+1 as frame t shifted by (dx, dy) on the torus, exactly?
    private static bool Shifted(float[] v, int t, int dx, int dy, int h, int w)
    {
        int plane = h * w;
        for (int c = 0; c < 3; c++)
        for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
        {
            int sy = ((y - dy) % h + h) % h, sx = ((x - dx) % w + w) % w;
            if (v[((t + 1) * 3 + c) * plane + y * w + x] != v[(t * 3 + c) * plane + sy * w + sx]) return false;
        }
        return true;
    }

    [Fact]
    public void ActionsMoveTheItemInTheirDirectionAndBackgroundHasNoNetMotion()
    {
        var gen = new UntrimmedMotionVideos(Small);
        var dirs = new[] { (1, 0), (-1, 0), (0, 1), (0, -1) };
        int actionPairs = 0, backgroundPairs = 0, stillPairs = 0;
        for (int i = 0; i < Small.Count; i++)
        {
            var (video, frames) = gen.Render(i);
            Assert.Equal(video.FrameCount * Small.FrameSize, frames.Length);
            Assert.InRange(video.FrameCount, Small.MinFrames, Small.MaxFrames);
            Assert.Equal(video.Instances.Select(x => x.ClassIndex).Distinct().OrderBy(c => c), video.Classes);
            for (int k = 1; k < video.Instances.Count; k++) Assert.True(video.Instances[k].StartFrame - video.Instances[k - 1].EndFrame >= Small.MinGapFrames);
            int Inside(int t) => video.Instances.FirstOrDefault(x => t >= x.StartFrame && t < x.EndFrame)?.ClassIndex ?? -1;
            for (int t = 0; t + 1 < video.FrameCount; t++)
            {
                int a = Inside(t), b = Inside(t + 1);
                if (a >= 0 && a == b)
                {
                    var (dx, dy) = dirs[a];
                    Assert.True(Shifted(frames, t, dx * Small.Speed, dy * Small.Speed, Small.Height, Small.Width), $"{video.Id} frame {t}: class {a} does not move {Small.Speed} px");
                    actionPairs++;
                }
                else if (a < 0 && b < 0)
                {
                    var moves = new[] { (0, 0), (1, 0), (-1, 0), (0, 1), (0, -1) }.Where(m => Shifted(frames, t, m.Item1, m.Item2, Small.Height, Small.Width)).ToList();
                    Assert.True(moves.Count > 0, $"{video.Id} frame {t}: background moves by more than 1 px");
                    if (moves.Contains((0, 0))) stillPairs++;
                    backgroundPairs++;
                }
            }
        }
        Assert.True(actionPairs > 100 && backgroundPairs > 200, $"{actionPairs} action and {backgroundPairs} background frame pairs");
        Assert.True(stillPairs < backgroundPairs, "no background stretch idles");
        // Deterministic per (seed, index); another seed gives other videos.
        Assert.Equal(gen.Render(2).Frames, new UntrimmedMotionVideos(Small).Render(2).Frames);
        Assert.NotEqual(gen.Render(2).Video.Instances, new UntrimmedMotionVideos(Small with { Seed = 5 }).Render(2).Video.Instances);
        Assert.Throws<ArgumentException>(() => new UntrimmedMotionVideos(Small with { MinFrames = 40 }));
    }
}

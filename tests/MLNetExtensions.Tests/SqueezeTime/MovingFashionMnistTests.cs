using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Core.Data.Video;
using Xunit;

namespace MLNetExtensions.Tests.SqueezeTime;

/// <summary>The moving Fashion-MNIST clip generator: determinism, motion, and class-free single frames.</summary>
public class MovingFashionMnistTests
{
    private static readonly MovingFashionMnistOptions Small = new(Count: 64, Seed: 3);

    [Fact]
    public void IsDeterministicPerSeedAndIndexWhateverTheReadOrder()
    {
        var a = new MovingFashionMnist(Small);
        var b = new MovingFashionMnist(Small);
        var other = new MovingFashionMnist(Small with { Seed = 4 });
        Assert.Equal(a.GetClip(5).Clip, b.GetClip(5).Clip);
        Assert.Equal(a.GetClip(5).Label, b.GetClip(5).Label);
        Assert.NotEqual(a.GetClip(5).Clip, other.GetClip(5).Clip);

        // Shuffled cursor: each row (by id) carries the same clip and label as GetClip.
        var cols = a.Schema.ToArray();
        using var cursor = a.GetRowCursor(cols, new Random(9));
        var getVideo = cursor.GetGetter<VBuffer<float>>(a.Schema["Video"]);
        var getLabel = cursor.GetGetter<uint>(a.Schema["Label"]);
        var getId = cursor.GetIdGetter();
        int rows = 0; bool reordered = false;
        VBuffer<float> v = default; uint key = 0; DataViewRowId id = default;
        while (cursor.MoveNext())
        {
            getVideo(ref v); getLabel(ref key); getId(ref id);
            var (clip, label) = a.GetClip((int)id.Low);
            Assert.Equal(clip, v.DenseValues().ToArray());
            Assert.Equal((uint)label + 1, key);
            reordered |= (long)id.Low != cursor.Position;
            rows++;
        }
        Assert.Equal(64, rows);
        Assert.True(reordered);
    }

    [Fact]
    public void DeclaresTheClipGeometryAndKeyLabelWithClassNames()
    {
        var view = new MovingFashionMnist(Small);
        var type = Assert.IsType<VectorDataViewType>(view.Schema["Video"].Type);
        Assert.Equal(new[] { 8, 3, 32, 32 }, type.Dimensions.ToArray());
        var label = view.Schema["Label"];
        Assert.Equal(4UL, Assert.IsType<KeyDataViewType>(label.Type).Count);
        VBuffer<ReadOnlyMemory<char>> names = default;
        label.GetKeyValues(ref names);
        Assert.Equal(MovingFashionMnist.ClassNames, names.DenseValues().Select(m => m.ToString()));
        var labels = new MLContext().Data.CreateEnumerable<LabelRow>(view, false).Select(r => r.Label).ToArray();
        Assert.Equal(4, labels.Distinct().Count()); // all classes occur
        Assert.Throws<ArgumentException>(() => new MovingFashionMnist(Small with { Speed = 5 })); // path longer than the canvas
    }

    private sealed class LabelRow { [KeyType(4)] public uint Label { get; set; } }

    [Fact]
    public void EachFrameIsThePreviousOneShiftedInTheClassDirection()
    {
        var o = Small;
        var view = new MovingFashionMnist(o);
        var steps = new[] { (1, 0), (-1, 0), (0, 1), (0, -1) };
        int plane = o.Height * o.Width;
        for (int i = 0; i < 16; i++)
        {
            var (clip, label) = view.GetClip(i);
            var (dx, dy) = steps[label];
            Assert.True(clip.Max() > 0.2f, "the item is visible");
            for (int t = 0; t + 1 < o.Frames; t++)
            for (int c = 0; c < 3; c++)
            for (int y = 0; y < o.Height; y++)
            for (int x = 0; x < o.Width; x++)
            {
                int sy = ((y - dy * o.Speed) % o.Height + o.Height) % o.Height, sx = ((x - dx * o.Speed) % o.Width + o.Width) % o.Width;
                Assert.Equal(clip[(t * 3 + c) * plane + sy * o.Width + sx], clip[((t + 1) * 3 + c) * plane + y * o.Width + x]);
            }
        }
    }

    [Fact]
    public void SingleFramesCarryNoPositionalClassInformation()
    {
        // On the torus with a uniform start, the item's position in any one frame is uniform for every class, so the
        // mean middle frame of each class has flat row and column profiles (a bounded canvas would peak in the middle).
        var o = new MovingFashionMnistOptions(Count: 800, Seed: 5);
        var view = new MovingFashionMnist(o);
        int plane = o.Height * o.Width, mid = o.Frames / 2;
        var colProfile = new double[4, o.Width];
        var rowProfile = new double[4, o.Height];
        var mass = new double[4];
        var count = new int[4];
        for (int i = 0; i < o.Count; i++)
        {
            var (clip, label) = view.GetClip(i);
            count[label]++;
            for (int c = 0; c < 3; c++)
            for (int y = 0; y < o.Height; y++)
            for (int x = 0; x < o.Width; x++)
            {
                double v = clip[(mid * 3 + c) * plane + y * o.Width + x];
                colProfile[label, x] += v; rowProfile[label, y] += v; mass[label] += v;
            }
        }
        for (int k = 0; k < 4; k++)
        {
            Assert.True(count[k] > 150, $"class {k} has {count[k]} clips");
            double meanCol = mass[k] / o.Width, meanRow = mass[k] / o.Height;
            for (int x = 0; x < o.Width; x++) Assert.InRange(colProfile[k, x] / meanCol, 0.75, 1.25);
            for (int y = 0; y < o.Height; y++) Assert.InRange(rowProfile[k, y] / meanRow, 0.75, 1.25);
        }
        // Mean brightness of a single frame does not depend on the class either.
        var perClip = Enumerable.Range(0, 4).Select(k => mass[k] / count[k]).ToArray();
        Assert.InRange(perClip.Max() / perClip.Min(), 1.0, 1.15);
    }
}

using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Transforms.Video;

namespace MLNetExtensions.Transforms.Datasets.Video;

/// <summary>Settings of <see cref="UntrimmedMotionVideos"/> (frame counts and lengths in frames).</summary>
/// <param name="Count">Videos.</param>
/// <param name="Seed">Seed; video i depends only on (Seed, i).</param>
/// <param name="Height">Canvas height H.</param>
/// <param name="Width">Canvas width W.</param>
/// <param name="ItemSize">Side of the Fashion-MNIST item after area downsampling from 28×28.</param>
/// <param name="Speed">Pixels moved per frame during an action.</param>
/// <param name="FrameRate">Frames per second (of the mp4 files and of the ground-truth seconds).</param>
/// <param name="MinFrames">Shortest video.</param>
/// <param name="MaxFrames">Longest video.</param>
/// <param name="MaxClassesPerVideo">Action classes per video: 1 … this (distinct directions).</param>
/// <param name="MaxInstancesPerClass">Instances per present class: 1 … this.</param>
/// <param name="MinInstanceFrames">Shortest action instance.</param>
/// <param name="MaxInstanceFrames">Longest action instance.</param>
/// <param name="MinGapFrames">Background frames at least before, between and after the instances.</param>
/// <param name="Split">Fashion-MNIST split the items come from.</param>
public sealed record UntrimmedMotionOptions(int Count, int Seed = 0, int Height = 32, int Width = 32, int ItemSize = 14, int Speed = 2,
    double FrameRate = 8, int MinFrames = 160, int MaxFrames = 320, int MaxClassesPerVideo = 2, int MaxInstancesPerClass = 2,
    int MinInstanceFrames = 16, int MaxInstanceFrames = 48, int MinGapFrames = 8, FashionMnistSplit Split = FashionMnistSplit.Train)
{
    /// <summary>Floats per frame (3·H·W).</summary>
    public int FrameSize => 3 * Height * Width;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that cannot make videos.</summary>
    public void Validate()
    {
        if (Count < 1) throw new ArgumentException("Count must be at least 1.", nameof(Count));
        if (ItemSize is < 1 or > 28) throw new ArgumentException("ItemSize must be in 1..28.", nameof(ItemSize));
        if (Height < ItemSize || Width < ItemSize) throw new ArgumentException($"The canvas ({Width}×{Height}) must hold the {ItemSize}×{ItemSize} item.", nameof(Height));
        if (Speed < 1 || Speed >= Math.Min(Height, Width) / 2) throw new ArgumentException("Speed must be ≥ 1 and below half the canvas side.", nameof(Speed));
        if (!(FrameRate > 0) || double.IsInfinity(FrameRate)) throw new ArgumentException("FrameRate must be positive.", nameof(FrameRate));
        if (MaxClassesPerVideo is < 1 or > 4) throw new ArgumentException("MaxClassesPerVideo must be in 1..4 (four directions).", nameof(MaxClassesPerVideo));
        if (MaxInstancesPerClass < 1) throw new ArgumentException("MaxInstancesPerClass must be ≥ 1.", nameof(MaxInstancesPerClass));
        if (MinInstanceFrames < 2 || MaxInstanceFrames < MinInstanceFrames) throw new ArgumentException("Instances need 2 ≤ MinInstanceFrames ≤ MaxInstanceFrames.", nameof(MinInstanceFrames));
        if (MinGapFrames < 1) throw new ArgumentException("MinGapFrames must be ≥ 1.", nameof(MinGapFrames));
        if (MaxFrames < MinFrames) throw new ArgumentException("MaxFrames must be ≥ MinFrames.", nameof(MaxFrames));
        if (MinFrames < MaxInstanceFrames + 2 * MinGapFrames)
            throw new ArgumentException($"MinFrames ({MinFrames}) must hold one longest instance with its gaps ({MaxInstanceFrames + 2 * MinGapFrames}).", nameof(MinFrames));
    }
}

/// <summary>An action instance of an untrimmed motion video: frames [StartFrame, EndFrame) of class <see cref="ClassIndex"/> (0-based, <see cref="MovingFashionMnist.ClassNames"/>).</summary>
public sealed record MotionInstance(int ClassIndex, int StartFrame, int EndFrame)
{
    /// <summary>Start in seconds at <paramref name="frameRate"/>.</summary>
    public double StartSeconds(double frameRate) => StartFrame / frameRate;

    /// <summary>End in seconds at <paramref name="frameRate"/>.</summary>
    public double EndSeconds(double frameRate) => EndFrame / frameRate;
}

/// <summary>One generated untrimmed video: its id, frame count, hidden ground truth and video-level classes.</summary>
public sealed record UntrimmedMotionVideo(string Id, int FrameCount, IReadOnlyList<MotionInstance> Instances, IReadOnlyList<int> Classes)
{
    /// <summary>Duration in seconds at <paramref name="frameRate"/>.</summary>
    public double Duration(double frameRate) => FrameCount / frameRate;
}

/// <summary>
/// Untrimmed videos made from real Fashion-MNIST items for weakly-supervised temporal localisation: one tinted item on a
/// black torus canvas, mostly in background stretches — standing still, or idling (a ±1-pixel wobble along one axis with
/// no net motion) — and, at known frame intervals, action instances in which it moves by
/// <see cref="UntrimmedMotionOptions.Speed"/> pixels per frame to the right, left, down or up (the four classes of
/// <see cref="MovingFashionMnist"/>). A video holds 1 … <c>MaxClassesPerVideo</c> classes with 1 … <c>MaxInstancesPerClass</c>
/// instances each, separated by background. The exact instances are kept (<see cref="UntrimmedMotionVideo.Instances"/>)
/// for evaluation; training sees only the video-level classes. <see cref="WriteMp4"/> writes the videos as H.264 files.
/// </summary>
public sealed class UntrimmedMotionVideos
{
    private readonly FashionMnistSprites _sprites;

    /// <summary>Builds the generator (reads the Fashion-MNIST split once: the full data set when installed or <paramref name="fashionMnistDirectory"/> is given, else the embedded subset).</summary>
    public UntrimmedMotionVideos(UntrimmedMotionOptions options, string? fashionMnistDirectory = null, string idPrefix = "video_")
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        IdPrefix = idPrefix ?? "";
        _sprites = new FashionMnistSprites(options.Split, fashionMnistDirectory);
    }

    /// <summary>The settings.</summary>
    public UntrimmedMotionOptions Options { get; }

    /// <summary>Prefix of the video ids (<c>{prefix}{index:D4}</c>).</summary>
    public string IdPrefix { get; }

    /// <summary>Class names in index order (the directions).</summary>
    public static IReadOnlyList<string> ClassNames => MovingFashionMnist.ClassNames;

    /// <summary>Video <paramref name="index"/>: its description and frames (N×3×H×W floats in [0, 1], frame-major, the layout <c>LoadVideoFrames</c> decodes).</summary>
    public (UntrimmedMotionVideo Video, float[] Frames) Render(int index)
    {
        if ((uint)index >= (uint)Options.Count) throw new ArgumentOutOfRangeException(nameof(index), $"Video index must be in 0..{Options.Count - 1}.");
        var o = Options;
        var rng = SplitMix64.ForPair(o.Seed, index);
        int n = o.MinFrames + rng.Next(o.MaxFrames - o.MinFrames + 1);
        // Classes and instance lengths, then a random order and random background gaps (≥ MinGapFrames each).
        var classes = Enumerable.Range(0, 4).ToArray();
        for (int i = 3; i > 0; i--) { int j = rng.Next(i + 1); (classes[i], classes[j]) = (classes[j], classes[i]); }
        var present = classes.Take(1 + rng.Next(o.MaxClassesPerVideo)).OrderBy(c => c).ToArray();
        var pending = new List<(int Cls, int Len)>();
        foreach (var c in present)
            for (int k = 1 + rng.Next(o.MaxInstancesPerClass); k > 0; k--)
                pending.Add((c, o.MinInstanceFrames + rng.Next(o.MaxInstanceFrames - o.MinInstanceFrames + 1)));
        for (int i = pending.Count - 1; i > 0; i--) { int j = rng.Next(i + 1); (pending[i], pending[j]) = (pending[j], pending[i]); }
        // Drop instances (never a class's last one) until everything fits.
        while (pending.Sum(p => p.Len) + (pending.Count + 1) * o.MinGapFrames > n)
        {
            int drop = pending.FindLastIndex(p => pending.Count(q => q.Cls == p.Cls) > 1);
            if (drop < 0) drop = pending.Count - 1;
            pending.RemoveAt(drop);
        }
        var usedClasses = pending.Select(p => p.Cls).Distinct().OrderBy(c => c).ToArray();
        int free = n - pending.Sum(p => p.Len) - (pending.Count + 1) * o.MinGapFrames;
        var weights = Enumerable.Range(0, pending.Count + 1).Select(_ => rng.NextDouble() + 0.05).ToArray();
        var gaps = weights.Select(w => o.MinGapFrames + (int)Math.Floor(free * w / weights.Sum())).ToArray();
        var instances = new List<MotionInstance>();
        int cursor = 0;
        for (int i = 0; i < pending.Count; i++)
        {
            cursor += gaps[i];
            instances.Add(new MotionInstance(pending[i].Cls, cursor, cursor + pending[i].Len));
            cursor += pending[i].Len;
        }

        // Item, tint, start point, and per background stretch: still or idling along a random axis.
        int item = rng.Next(_sprites.Count);
        var sprite = _sprites.Downsample(item, o.ItemSize);
        Span<float> tint = stackalloc float[3];
        for (int c = 0; c < 3; c++) tint[c] = 0.4f + 0.6f * (float)rng.NextDouble();
        int x = rng.Next(o.Width), y = rng.Next(o.Height);
        var idle = Enumerable.Range(0, pending.Count + 1).Select(_ => rng.Next(3)).ToArray(); // 0 still, 1 idle x, 2 idle y
        var frames = new float[n * o.FrameSize];
        int plane = o.Height * o.Width;
        int stretch = 0, next = 0;
        for (int t = 0; t < n; t++)
        {
            var active = next < instances.Count && t >= instances[next].StartFrame ? instances[next] : null;
            int ox = x, oy = y;
            if (active != null)
            {
                var (dx, dy) = MovingFashionMnist.Directions[active.ClassIndex];
                x += dx * o.Speed; y += dy * o.Speed; ox = x; oy = y;
                if (t + 1 == active.EndFrame) { next++; stretch++; }
            }
            else if (idle[stretch] != 0)
            {
                int wobble = (t / 2) % 2; // 0 0 1 1 0 0 …: no net motion
                if (idle[stretch] == 1) ox += wobble; else oy += wobble;
            }
            for (int r = 0; r < o.ItemSize; r++)
            for (int q = 0; q < o.ItemSize; q++)
            {
                float v = sprite[r * o.ItemSize + q];
                if (v == 0) continue;
                int py = MovingFashionMnist.Mod(oy + r, o.Height), px = MovingFashionMnist.Mod(ox + q, o.Width);
                for (int c = 0; c < 3; c++) frames[(t * 3 + c) * plane + py * o.Width + px] = v * tint[c];
            }
        }
        return (new UntrimmedMotionVideo($"{IdPrefix}{index:D4}", n, instances, usedClasses), frames);
    }

    /// <summary>Every video's description without rendering frames twice (renders each once).</summary>
    public IReadOnlyList<UntrimmedMotionVideo> Describe() => Enumerable.Range(0, Options.Count).Select(i => Render(i).Video).ToList();

    /// <summary>
    /// Writes every video as <c>{folder}/{Id}.mp4</c> (H.264, <see cref="UntrimmedMotionOptions.FrameRate"/>; an existing file
    /// is kept) and returns the descriptions. <paramref name="parallel"/> encodes that many at once.
    /// </summary>
    public IReadOnlyList<UntrimmedMotionVideo> WriteMp4(string folder, int parallel = 2, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        Directory.CreateDirectory(folder);
        var writer = new VideoClipWriter(Options.FrameRate);
        var result = new UntrimmedMotionVideo[Options.Count];
        Parallel.For(0, Options.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, parallel), CancellationToken = cancellationToken }, i =>
        {
            var (video, frames) = Render(i);
            var path = Path.Combine(folder, video.Id + ".mp4");
            if (!File.Exists(path)) writer.Write(path, frames, video.FrameCount, Options.Height, Options.Width, cancellationToken);
            result[i] = video;
        });
        return result;
    }

    /// <summary>
    /// One row per video with the layout of <see cref="SyntheticUntrimmedDataView"/> but a file path instead of features:
    /// <c>VideoId</c>, <c>Path</c> (<c>{Id}.mp4</c>, relative), <c>Label</c> (Vector&lt;Key&gt; of the video's classes),
    /// <c>Duration</c> (seconds), <c>GroundTruthStart/End</c> (seconds) and <c>GroundTruthLabel</c>.
    /// </summary>
    public static IDataView Load(MLContext ml, IEnumerable<UntrimmedMotionVideo> videos, double frameRate)
    {
        ArgumentNullException.ThrowIfNull(ml);
        ArgumentNullException.ThrowIfNull(videos);
        var rows = videos.Select(v => new FileRow
        {
            VideoId = v.Id, Path = v.Id + ".mp4", Duration = (float)v.Duration(frameRate),
            Label = v.Classes.Select(c => (uint)c + 1).ToArray(),
            GroundTruthStart = v.Instances.Select(i => (float)i.StartSeconds(frameRate)).ToArray(),
            GroundTruthEnd = v.Instances.Select(i => (float)i.EndSeconds(frameRate)).ToArray(),
            GroundTruthLabel = v.Instances.Select(i => (uint)i.ClassIndex + 1).ToArray(),
        }).ToList();
        return ml.Data.LoadFromEnumerable(rows, SyntheticUntrimmedDataView.KeyedDefinition(typeof(FileRow), ClassNames.ToArray(), "Label", "GroundTruthLabel"));
    }

    private sealed class FileRow
    {
        public string VideoId { get; set; } = "";
        public string Path { get; set; } = "";
        public uint[] Label { get; set; } = Array.Empty<uint>();
        public float Duration { get; set; }
        public float[] GroundTruthStart { get; set; } = Array.Empty<float>();
        public float[] GroundTruthEnd { get; set; } = Array.Empty<float>();
        public uint[] GroundTruthLabel { get; set; } = Array.Empty<uint>();
    }
}

namespace MLNetExtensions.Transforms.Datasets;

/// <summary>One action instance of a synthetic video: snippets [<paramref name="Start"/>, <paramref name="End"/>) of class <paramref name="ClassIndex"/>.</summary>
public readonly record struct SyntheticInstance(int ClassIndex, int Start, int End);

/// <summary>A synthetic untrimmed video: T×D row-major snippet features, its video-level multi-hot labels and the hidden ground truth.</summary>
public sealed record SyntheticVideo(string Id, int Length, int FeatureDim, float[] Features, float[] Labels, IReadOnlyList<SyntheticInstance> Instances)
{
    /// <summary>Ground truth in seconds (snippet i covers [i·s, (i+1)·s)).</summary>
    public IEnumerable<(int ClassIndex, double Start, double End)> InstancesInSeconds(double secondsPerSnippet) =>
        Instances.Select(i => (i.ClassIndex, i.Start * secondsPerSnippet, i.End * secondsPerSnippet));
}

/// <summary>Settings of <see cref="SyntheticUntrimmedFeatures"/> (note fustal.md §9 defaults).</summary>
public sealed class SyntheticUntrimmedOptions
{
    /// <summary>Number of classes K. Default 5.</summary>
    public int NumClasses { get; set; } = 5;
    /// <summary>Snippet feature size D. Default 64.</summary>
    public int FeatureDim { get; set; } = 64;
    /// <summary>Shortest video in snippets. Default 200.</summary>
    public int MinLength { get; set; } = 200;
    /// <summary>Longest video in snippets. Default 400.</summary>
    public int MaxLength { get; set; } = 400;
    /// <summary>Most classes in one video (at least 1). Default 2.</summary>
    public int MaxClassesPerVideo { get; set; } = 2;
    /// <summary>Most instances per class in a video (at least 1). Default 4.</summary>
    public int MaxInstancesPerClass { get; set; } = 4;
    /// <summary>Shortest instance in snippets. Default 8.</summary>
    public int MinInstanceLength { get; set; } = 8;
    /// <summary>Longest instance in snippets. Default 40.</summary>
    public int MaxInstanceLength { get; set; } = 40;
    /// <summary>L2 norm of each class prototype (the background prototype is N(0, 1) per dimension). Default 2.</summary>
    public double PrototypeNorm { get; set; } = 2.0;
    /// <summary>Standard deviation of the per-video style offset. Default 0.5.</summary>
    public double StyleScale { get; set; } = 0.5;
    /// <summary>Standard deviation of the per-snippet noise. Default 0.5.</summary>
    public double NoiseScale { get; set; } = 0.5;
    /// <summary>Strength of the class prototype in the discriminative core (central half of an instance). Default 1.5.</summary>
    public double CoreStrength { get; set; } = 1.5;
    /// <summary>Strength outside the core (fuzzy, weakly class-like parts: MIL incompleteness). Default 0.5.</summary>
    public double WeakStrength { get; set; } = 0.5;
    /// <summary>Strength of the context snippets beside an instance. Default 0.25.</summary>
    public double ContextStrength { get; set; } = 0.25;
    /// <summary>Probability that a video gets one isolated distractor burst of a class it does not contain. Default 0.5.</summary>
    public double DistractorProbability { get; set; } = 0.5;
    /// <summary>Strength of a distractor burst. Default 1.0.</summary>
    public double DistractorStrength { get; set; } = 1.0;
}

/// <summary>
/// The note's synthetic untrimmed feature sequences (fustal.md §9): background = shared prototype + per-video style +
/// noise; an instance mixes its class prototype in with a trapezoid weight (2–4-snippet ramps) at full strength only in
/// its central core; weak class-like context snippets beside instances; isolated distractor bursts of absent classes.
/// Prototypes depend only on <c>prototypeSeed</c>, so train/validation/test splits made with different video seeds share
/// classes. Training should see only <see cref="SyntheticVideo.Labels"/>.
/// </summary>
public static class SyntheticUntrimmedFeatures
{
    /// <summary>Generates <paramref name="count"/> videos named <c>{prefix}{i:0000}</c>.</summary>
    public static List<SyntheticVideo> Generate(int count, int videoSeed, SyntheticUntrimmedOptions? options = null, int prototypeSeed = 0, string prefix = "video_")
    {
        options ??= new SyntheticUntrimmedOptions();
        Validate(options);
        int k = options.NumClasses, d = options.FeatureDim;
        var protoRng = new Random(prototypeSeed);
        var background = Gaussian(protoRng, d, 1.0);
        var prototypes = Enumerable.Range(0, k).Select(_ => Unit(Gaussian(protoRng, d, 1.0), options.PrototypeNorm)).ToArray();

        var rng = new Random(videoSeed);
        var videos = new List<SyntheticVideo>(count);
        for (int v = 0; v < count; v++)
        {
            int t = rng.Next(options.MinLength, options.MaxLength + 1);
            var style = Gaussian(rng, d, options.StyleScale);
            var x = new float[t * d];
            for (int i = 0; i < t; i++)
                for (int j = 0; j < d; j++)
                    x[i * d + j] = (float)(background[j] + style[j] + options.NoiseScale * Normal(rng));

            var classes = Enumerable.Range(0, k).OrderBy(_ => rng.Next()).Take(rng.Next(1, Math.Min(options.MaxClassesPerVideo, k) + 1)).ToArray();
            var occupied = new bool[t];
            var instances = new List<SyntheticInstance>();
            foreach (var c in classes)
            {
                int want = rng.Next(1, options.MaxInstancesPerClass + 1);
                for (int n = 0, tries = 0; n < want && tries < 50; tries++)
                {
                    int len = rng.Next(options.MinInstanceLength, options.MaxInstanceLength + 1);
                    if (len + 8 > t) continue;
                    int s = rng.Next(4, t - len - 4);
                    if (Enumerable.Range(s - 4, len + 8).Any(i => occupied[i])) continue; // keep a gap for context
                    for (int i = s - 4; i < s + len + 4; i++) occupied[i] = true;
                    instances.Add(new SyntheticInstance(c, s, s + len));
                    AddInstance(x, d, prototypes[c], s, len, rng, options);
                    n++;
                }
            }
            if (instances.Count == 0) { v--; continue; } // a label needs an instance; draw again

            if (classes.Length < k && rng.NextDouble() < options.DistractorProbability)
            {
                var absent = Enumerable.Range(0, k).Except(classes).ToArray();
                int c = absent[rng.Next(absent.Length)];
                int len = rng.Next(2, 5);
                var free = Enumerable.Range(0, t - len).Where(s => !Enumerable.Range(Math.Max(0, s - 3), Math.Min(t, s + len + 3) - Math.Max(0, s - 3)).Any(i => occupied[i])).ToArray();
                if (free.Length > 0)
                {
                    int s = free[rng.Next(free.Length)];
                    for (int i = s; i < s + len; i++) Add(x, d, i, prototypes[c], options.DistractorStrength);
                }
            }

            var labels = new float[k];
            foreach (var inst in instances) labels[inst.ClassIndex] = 1;
            instances.Sort((a, b) => a.Start.CompareTo(b.Start));
            videos.Add(new SyntheticVideo($"{prefix}{videos.Count:0000}", t, d, x, labels, instances));
        }
        return videos;
    }

    private static void AddInstance(float[] x, int d, double[] proto, int s, int len, Random rng, SyntheticUntrimmedOptions o)
    {
        int ramp = rng.Next(2, 5);
        int coreFrom = s + len / 4, coreTo = s + len - len / 4; // central half
        for (int i = s; i < s + len; i++)
        {
            double w = Math.Min(1.0, Math.Min(i - s + 1, s + len - i) / (double)(ramp + 1)); // trapezoid: fuzzy boundaries
            double strength = i >= coreFrom && i < coreTo ? o.CoreStrength : o.WeakStrength;
            Add(x, d, i, proto, w * strength);
        }
        int ctx = rng.Next(1, 4);
        for (int i = 1; i <= ctx; i++)
        {
            Add(x, d, s - i, proto, o.ContextStrength);
            Add(x, d, s + len - 1 + i, proto, o.ContextStrength);
        }
    }

    private static void Add(float[] x, int d, int row, double[] proto, double scale)
    {
        for (int j = 0; j < d; j++) x[row * d + j] += (float)(scale * proto[j]);
    }

    private static double[] Gaussian(Random rng, int n, double scale) => Enumerable.Range(0, n).Select(_ => scale * Normal(rng)).ToArray();

    private static double[] Unit(double[] v, double norm)
    {
        double len = Math.Sqrt(v.Sum(a => a * a));
        return v.Select(a => a / len * norm).ToArray();
    }

    private static double Normal(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    private static void Validate(SyntheticUntrimmedOptions o)
    {
        if (o.NumClasses < 1 || o.FeatureDim < 1) throw new ArgumentOutOfRangeException(nameof(o.NumClasses), "Classes and feature size must be ≥ 1.");
        if (o.MinInstanceLength < 1 || o.MaxInstanceLength < o.MinInstanceLength) throw new ArgumentOutOfRangeException(nameof(o.MinInstanceLength), "Need 1 ≤ min ≤ max instance length.");
        if (o.MinLength < o.MaxInstanceLength + 8 || o.MaxLength < o.MinLength) throw new ArgumentOutOfRangeException(nameof(o.MinLength), "Videos must be longer than the longest instance plus its context gap (8), and min ≤ max.");
        if (o.MaxClassesPerVideo < 1 || o.MaxInstancesPerClass < 1) throw new ArgumentOutOfRangeException(nameof(o.MaxClassesPerVideo), "Must be ≥ 1.");
    }
}

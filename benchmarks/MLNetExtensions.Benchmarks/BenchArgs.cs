namespace MLNetExtensions.Benchmarks;

/// <summary>Minimal --name value parsing shared by the suites.</summary>
internal sealed class BenchArgs(string[] args)
{
    public string? Get(string name) { int i = Array.IndexOf(args, "--" + name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : null; }
    public int Int(string name, int fallback) => Get(name) is string s ? int.Parse(s) : fallback;
    public bool Has(string name) => Array.IndexOf(args, "--" + name) >= 0;
    public string Out => Directory.CreateDirectory(Get("out") ?? Path.Combine("benchmarks", "results")).FullName;

    /// <summary>Median of <paramref name="reps"/> timings (after one warm-up) in milliseconds.</summary>
    public static double MedianMs(int reps, Action action)
    {
        action();
        var t = new double[reps];
        for (int i = 0; i < reps; i++)
        {
            var sw = System.Diagnostics.Stopwatch.StartNew();
            action();
            t[i] = sw.Elapsed.TotalMilliseconds;
        }
        Array.Sort(t);
        return t[reps / 2];
    }
}

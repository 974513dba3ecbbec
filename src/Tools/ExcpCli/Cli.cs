using System.Diagnostics;
using System.Globalization;
using MLNetExtensions.Transforms.Excp;

namespace MLNetExtensions.ExcpCli;

/// <summary>The <c>excp</c> command line: compress, decompress, inspect, verify.</summary>
public static class Cli
{
    private const string Usage = """
        usage:
          excp compress   --chain DIR (--checkpoint FILE.excp | --model M.pt|.safetensors [--optimizer O.pt] [--param-names FILE]) [--step N]
                          [--alpha A] [--beta B] [--bits 4] [--moment-bits 4] [--official] [--keyframe-interval K] [--zstd-level L] [--min-kept F]
          excp decompress --chain DIR --step N (--out FILE.excp | --model OUT.pt [--optimizer OUT.pt] [--param-names FILE])
          excp inspect    (DIR | FILE.excp)
          excp verify     (DIR | FILE.excp)
        A chain folder holds chain.excpidx and one step-*.excp file per checkpoint; FILE.excp alone is a lossless checkpoint
        or a single link. --param-names lists model.parameters() names in order, one per line (PyTorch keys optimizer
        state by position). Exit codes: 0 ok, 1 usage or input error, 2 corrupt / unverifiable data.
        """;

    /// <summary>Runs one command; returns the process exit code.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help") { stdout.WriteLine(Usage); return args.Length == 0 ? 1 : 0; }
        try
        {
            var (pos, opts) = Parse(args.Skip(1));
            return args[0] switch
            {
                "compress" => Compress(opts, stdout),
                "decompress" => Decompress(opts, stdout),
                "inspect" => Inspect(Single(pos, "inspect"), stdout),
                "verify" => Verify(Single(pos, "verify"), stdout),
                _ => throw new UsageException($"unknown command '{args[0]}'"),
            };
        }
        catch (UsageException e) { stderr.WriteLine($"excp: {e.Message}"); stderr.WriteLine(Usage); return 1; }
        catch (ExcpFormatException e) { stderr.WriteLine($"excp: {e.Message}"); return 2; }
        catch (Exception e) when (e is ArgumentException or IOException or FormatException or KeyNotFoundException or UnauthorizedAccessException or NotSupportedException)
        { stderr.WriteLine($"excp: {e.Message}"); return 1; }
    }

    private sealed class UsageException(string message) : Exception(message);

    private static readonly HashSet<string> Flags = new() { "official" };

    private static (List<string> Positional, Dictionary<string, string> Options) Parse(IEnumerable<string> args)
    {
        var pos = new List<string>();
        var opts = new Dictionary<string, string>();
        using var e = args.GetEnumerator();
        while (e.MoveNext())
        {
            var a = e.Current;
            if (!a.StartsWith("--")) { pos.Add(a); continue; }
            var key = a[2..];
            if (Flags.Contains(key)) { opts[key] = "true"; continue; }
            if (!e.MoveNext()) throw new UsageException($"option --{key} needs a value");
            opts[key] = e.Current;
        }
        return (pos, opts);
    }

    private static string Single(List<string> pos, string cmd) =>
        pos.Count == 1 ? pos[0] : throw new UsageException($"{cmd} takes exactly one path");

    private static string Need(Dictionary<string, string> o, string k) =>
        o.TryGetValue(k, out var v) ? v : throw new UsageException($"missing --{k}");

    private static double D(Dictionary<string, string> o, string k, double d) =>
        o.TryGetValue(k, out var v) ? double.Parse(v, CultureInfo.InvariantCulture) : d;

    private static int I(Dictionary<string, string> o, string k, int d) =>
        o.TryGetValue(k, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : d;

    private static IReadOnlyList<string>? Names(Dictionary<string, string> o) =>
        o.TryGetValue("param-names", out var f) ? File.ReadAllLines(f).Select(l => l.Trim()).Where(l => l.Length > 0).ToList() : null;

    private static int Compress(Dictionary<string, string> o, TextWriter w)
    {
        var dir = Need(o, "chain");
        TrainingCheckpoint ck;
        if (o.TryGetValue("checkpoint", out var file))
        {
            ck = ExcpCheckpointFile.Read(file);
            if (o.ContainsKey("step")) ck = new TrainingCheckpoint(long.Parse(o["step"], CultureInfo.InvariantCulture), ck.Parameters, ck.Optimizer, ck.Extras);
        }
        else if (o.TryGetValue("model", out var model))
            ck = PyTorchCheckpointFiles.Load(model, o.GetValueOrDefault("optimizer"), long.Parse(Need(o, "step"), CultureInfo.InvariantCulture), Names(o));
        else throw new UsageException("compress needs --checkpoint or --model");

        var options = new ExcpOptions
        {
            Alpha = D(o, "alpha", 5e-5), Beta = D(o, "beta", 2.0), WeightBits = I(o, "bits", 4), MomentBits = I(o, "moment-bits", 4),
            OfficialCompatibility = o.ContainsKey("official"), KeyFrameInterval = I(o, "keyframe-interval", 0), ZstdLevel = I(o, "zstd-level", 3),
            MinWeightKeptFraction = D(o, "min-kept", 0),
        };
        var chain = ExcpChain.Open(dir, options);
        var sw = Stopwatch.StartNew();
        var r = chain.Append(ck);
        sw.Stop();
        w.WriteLine($"step {r.Entry.Step} -> {Path.Combine(dir, r.Entry.FileName)} ({(r.Entry.IsKeyFrame ? "key frame" : $"link, parent {r.Entry.ParentStep}")})");
        w.WriteLine($"  {r.RawBytes:N0} B raw fp32 (weights + moments) -> {r.CompressedBytes:N0} B: {r.Ratio:F1}x in {sw.Elapsed.TotalSeconds:F2} s");
        foreach (var (name, s) in r.Statistics)
            w.WriteLine($"  {name,-40} weights kept {s.WeightKeptFraction,7:P2}  moments kept {s.MomentKeptFraction,7:P2}");
        return 0;
    }

    private static int Decompress(Dictionary<string, string> o, TextWriter w)
    {
        var chain = ExcpChain.Open(Need(o, "chain"));
        long step = long.Parse(Need(o, "step"), CultureInfo.InvariantCulture);
        var ck = chain.Read(step);
        if (o.TryGetValue("out", out var outFile))
        {
            ExcpCheckpointFile.Write(outFile, ck);
            w.WriteLine($"step {step} -> {outFile}");
        }
        else if (o.TryGetValue("model", out var model))
        {
            PyTorchCheckpointFiles.Save(ck, model, o.GetValueOrDefault("optimizer"), Names(o));
            w.WriteLine($"step {step} -> {model}{(o.TryGetValue("optimizer", out var opt) ? " + " + opt : "")}");
        }
        else throw new UsageException("decompress needs --out or --model");
        return 0;
    }

    private static int Inspect(string path, TextWriter w)
    {
        if (Directory.Exists(path))
        {
            var chain = ExcpChain.Open(path);
            w.WriteLine($"chain {path}: {chain.Entries.Count} checkpoints");
            foreach (var e in chain.Entries)
                w.WriteLine($"  step {e.Step,10}  {(e.IsKeyFrame ? "key frame" : $"parent {e.ParentStep}"),-16} {e.FileLength,12:N0} B  {e.FileName}  recon {Convert.ToHexString(e.ReconstructionHash, 0, 8).ToLowerInvariant()}");
            return 0;
        }
        var i = ExcpFile.ReadInfo(path);
        var o = i.Options;
        w.WriteLine($"{path}: ExCP format v{i.Version}, codec {i.CodecId}, k-means {i.KMeansId}");
        w.WriteLine($"  step {i.Step}, {(i.IsKeyFrame ? "key frame (lossless)" : $"link against step {i.ParentStep} (parent hash {Convert.ToHexString(i.ParentHash, 0, 8).ToLowerInvariant()})")}, {i.FileLength:N0} B");
        w.WriteLine($"  alpha {o.Alpha}, beta {o.Beta}, clamp {o.MultiplierClamp}, bits {o.WeightBits}/{o.MomentBits}, official-compat {o.OfficialCompatibility}, zstd {o.ZstdLevel}");
        if (i.Optimizer is { } h) w.WriteLine($"  optimizer: lr {h.LearningRate}, betas ({h.Beta1}, {h.Beta2}), eps {h.Eps}, weight decay {h.WeightDecay}{(h.DecoupledWeightDecay ? " (AdamW)" : "")}");
        if (i.Extras.Count > 0) w.WriteLine($"  extras: {string.Join(", ", i.Extras.Select(e => $"{e.Key} ({e.Value.Length} B)"))}");
        foreach (var t in i.Tensors)
        {
            long n = t.Shape.Aggregate(1L, (a, b) => a * b);
            var size = t.WeightSection.StoredLength + t.OptimizerSection.StoredLength;
            w.WriteLine(t.Encoding == TensorEncoding.Excp
                ? $"  {t.Name,-40} [{string.Join(",", t.Shape)}] excp  step {t.AdamStep}  weights kept {(double)t.WeightKept / n,7:P2} (x{t.Multiplier:G3}, tau {t.WeightThreshold:G3})  moments kept {(double)t.MomentKept / n,7:P2}  {t.WeightSection.StoredLength:N0}+{t.OptimizerSection.StoredLength:N0} B"
                : $"  {t.Name,-40} [{string.Join(",", t.Shape)}] lossless{(t.HasAdam ? $" + Adam (step {t.AdamStep})" : "")}  {size:N0} B");
        }
        return 0;
    }

    private static int Verify(string path, TextWriter w)
    {
        if (Directory.Exists(path))
        {
            var results = ExcpChain.Open(path).Verify();
            foreach (var r in results) w.WriteLine($"  step {r.Step,10}  {(r.Ok ? "OK  " : "FAIL")}  {r.Message}");
            int bad = results.Count(r => !r.Ok);
            w.WriteLine(bad == 0 ? $"{results.Count} checkpoints verified" : $"{bad} of {results.Count} checkpoints FAILED");
            return bad == 0 ? 0 : 2;
        }
        var link = ExcpFile.Read(path);
        if (link.IsKeyFrame) ExcpCodec.Decode(link, null, path);
        w.WriteLine(link.IsKeyFrame ? $"{path}: OK (step {link.Step}, lossless)" : $"{path}: checksums OK (step {link.Step}); full decode needs its chain folder");
        return 0;
    }
}

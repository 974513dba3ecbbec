using System.CommandLine;
using System.Diagnostics;
using MLNetExtensions.CommandLine;
using MLNetExtensions.Transforms.Excp;
using static MLNetExtensions.CommandLine.CommandLineApp;

namespace MLNetExtensions.ExcpCli;

/// <summary>The <c>excp</c> command line: compress, decompress, inspect, verify (System.CommandLine).</summary>
public static class Cli
{
    private const string About = """
        ExCP checkpoint compression (weights + Adam moments). A chain folder holds chain.excpidx and one step-*.excp file
        per checkpoint; FILE.excp alone is a lossless checkpoint or a single link. Exit codes: 0 ok, 1 usage or input
        error (including a missing input), 2 corrupt / unverifiable data.
        """;

    /// <summary>Runs one command; returns the process exit code (0 ok, 1 usage or input error, 2 corrupt data).</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) =>
        CommandLineApp.Run(Root(stdout), args, stdout, stderr, e => e is ExcpFormatException ? Failure : null, name: "excp");

    private static RootCommand Root(TextWriter w)
    {
        var root = new RootCommand(About) { Commands.Compress(w), Commands.Decompress(w), Commands.Inspect(w), Commands.Verify(w) };
        return root;
    }

    private static class Commands
    {
        private static Option<string> Chain() => new("--chain") { Description = "Chain folder (created when missing).", Required = true };
        private static Option<string?> ParamNames() => new("--param-names") { Description = "File listing model.parameters() names in order, one per line (PyTorch keys optimizer state by position)." };

        public static Command Compress(TextWriter w)
        {
            var chain = Chain();
            var checkpoint = new Option<string?>("--checkpoint") { Description = "Input: a lossless FILE.excp checkpoint." };
            var model = new Option<string?>("--model") { Description = "Input: a PyTorch state dict (.pt or .safetensors)." };
            var optimizer = new Option<string?>("--optimizer") { Description = "PyTorch optimizer state (.pt) to go with --model." };
            var names = ParamNames();
            var step = new Option<long?>("--step") { Description = "Training step (needed with --model; overrides the checkpoint's)." };
            var alpha = Defaulted("--alpha", "Weight pruning strength α.", 5e-5);
            var beta = Defaulted("--beta", "Moment pruning strength β.", 2.0);
            var bits = Defaulted("--bits", "Weight quantisation bits.", 4);
            var momentBits = Defaulted("--moment-bits", "Moment quantisation bits.", 4);
            var official = Defaulted("--official", "Bit-compatible with the official ExCP code.", false);
            var keyframe = Defaulted("--keyframe-interval", "Write a lossless key frame every K checkpoints (0 = only the first).", 0);
            var zstd = Defaulted("--zstd-level", "Zstandard level.", 3);
            var minKept = Defaulted("--min-kept", "Smallest fraction of weights kept per tensor.", 0.0);
            var cmd = new Command("compress", "Append a checkpoint to a chain (a key frame or a compressed link).")
                { chain, checkpoint, model, optimizer, names, step, alpha, beta, bits, momentBits, official, keyframe, zstd, minKept };
            cmd.SetAction(r =>
            {
                var dir = r.GetValue(chain)!;
                TrainingCheckpoint ck;
                if (r.GetValue(checkpoint) is string file)
                {
                    ck = ExcpCheckpointFile.Read(file);
                    if (r.GetValue(step) is long s) ck = new TrainingCheckpoint(s, ck.Parameters, ck.Optimizer, ck.Extras);
                }
                else if (r.GetValue(model) is string m)
                    ck = PyTorchCheckpointFiles.Load(m, r.GetValue(optimizer), r.GetValue(step) ?? throw new UsageException("--model needs --step"), Names(r.GetValue(names)));
                else throw new UsageException("compress needs --checkpoint or --model");

                var options = new ExcpOptions
                {
                    Alpha = r.GetValue(alpha), Beta = r.GetValue(beta), WeightBits = r.GetValue(bits), MomentBits = r.GetValue(momentBits),
                    OfficialCompatibility = r.GetValue(official), KeyFrameInterval = r.GetValue(keyframe), ZstdLevel = r.GetValue(zstd),
                    MinWeightKeptFraction = r.GetValue(minKept),
                };
                var opened = ExcpChain.Open(dir, options);
                var sw = Stopwatch.StartNew();
                var res = opened.Append(ck);
                sw.Stop();
                w.WriteLine($"step {res.Entry.Step} -> {Path.Combine(dir, res.Entry.FileName)} ({(res.Entry.IsKeyFrame ? "key frame" : $"link, parent {res.Entry.ParentStep}")})");
                w.WriteLine($"  {res.RawBytes:N0} B raw fp32 (weights + moments) -> {res.CompressedBytes:N0} B: {res.Ratio:F1}x in {sw.Elapsed.TotalSeconds:F2} s");
                foreach (var (name, st) in res.Statistics)
                    w.WriteLine($"  {name,-40} weights kept {st.WeightKeptFraction,7:P2}  moments kept {st.MomentKeptFraction,7:P2}");
                return 0;
            });
            return cmd;
        }

        public static Command Decompress(TextWriter w)
        {
            var chain = Chain();
            var step = new Option<long>("--step") { Description = "The step to rebuild.", Required = true };
            var outFile = new Option<string?>("--out") { Description = "Output: a lossless FILE.excp checkpoint." };
            var model = new Option<string?>("--model") { Description = "Output: a PyTorch state dict (.pt)." };
            var optimizer = new Option<string?>("--optimizer") { Description = "Also write the optimizer state (.pt) with --model." };
            var names = ParamNames();
            var cmd = new Command("decompress", "Rebuild one step of a chain.") { chain, step, outFile, model, optimizer, names };
            cmd.SetAction(r =>
            {
                var opened = ExcpChain.Open(r.GetValue(chain)!); // a missing folder reads as "no step N" (exit 1)
                long s = r.GetValue(step);
                if (r.GetValue(outFile) is null && r.GetValue(model) is null) throw new UsageException("decompress needs --out or --model");
                var ck = opened.Read(s);
                if (r.GetValue(outFile) is string o)
                {
                    ExcpCheckpointFile.Write(o, ck);
                    w.WriteLine($"step {s} -> {o}");
                }
                else
                {
                    var m = r.GetValue(model)!;
                    var opt = r.GetValue(optimizer);
                    PyTorchCheckpointFiles.Save(ck, m, opt, Names(r.GetValue(names)));
                    w.WriteLine($"step {s} -> {m}{(opt != null ? " + " + opt : "")}");
                }
                return 0;
            });
            return cmd;
        }

        public static Command Inspect(TextWriter w)
        {
            var path = new Argument<string>("path") { Description = "A chain folder or a FILE.excp." };
            var cmd = new Command("inspect", "Describe a chain or one file: steps, sizes, options, per-tensor encoding.") { path };
            cmd.SetAction(r => Cli.Inspect(RequireExisting(r.GetValue(path)!), w));
            return cmd;
        }

        public static Command Verify(TextWriter w)
        {
            var path = new Argument<string>("path") { Description = "A chain folder or a FILE.excp." };
            var cmd = new Command("verify", "Check checksums and rebuild every step (a chain) or the key frame (a file).") { path };
            cmd.SetAction(r => Cli.Verify(RequireExisting(r.GetValue(path)!), w));
            return cmd;
        }
    }

    // A missing input is a usage/input error (1), not corrupt data (2).
    private static string RequireExisting(string path) =>
        File.Exists(path) || Directory.Exists(path) ? path : throw new FileNotFoundException($"'{path}' does not exist (expected a chain folder or a FILE.excp).", path);

    private static IReadOnlyList<string>? Names(string? file) =>
        file != null ? File.ReadAllLines(file).Select(l => l.Trim()).Where(l => l.Length > 0).ToList() : null;
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

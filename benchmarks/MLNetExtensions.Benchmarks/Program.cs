// Plain benchmark harness. Usage: dotnet run -c Release --project benchmarks/MLNetExtensions.Benchmarks -- <suite> [options]
// Suites write a Markdown table to stdout and figures/plots under --out (default benchmarks/results).
using MLNetExtensions.Benchmarks;

var suites = new Dictionary<string, Func<string[], int>>(StringComparer.OrdinalIgnoreCase)
{
    ["tinyvim"] = TinyViMBench.Run,
    ["convcheck"] = ConvCheck.Run,
    ["onednn-probe"] = OneDnnProbe.Run,
    ["slab"] = a => { SlabBenchmark.Run(a); return 0; },
    ["ssa"] = a => { SsaBenchmark.Run(a); return 0; },
    ["squeezetime"] = SqueezeTimeBench.Run,
    ["geminifusion"] = GeminiFusionBench.Run,
    ["serving"] = ServingLoadBench.Run,
    ["sweeps-distributed"] = SweepsDistributedBench.Run,
    ["fustal"] = FustalBench.Run,
    ["transform-overhead"] = TransformOverheadBench.Run,
    ["pairs"] = MLNetExtensions.Benchmarks.Pairs.PairsCommand.Run,
    ["pair-side"] = MLNetExtensions.Benchmarks.Pairs.PairsCommand.Side, // hidden: our side of one pair (a child of `pairs`)
    ["pair-time"] = MLNetExtensions.Benchmarks.Pairs.PairTimeCommand.Run, // ours in process vs the peer, with --profile (per-module times)
};
if (args.Length == 0 || !suites.TryGetValue(args[0], out var run))
{
    Console.Error.WriteLine($"usage: MLNetExtensions.Benchmarks <{string.Join("|", suites.Keys.Where(k => k != "pair-side"))}> [--threads N] [--out DIR]");
    return 2;
}
return run(args[1..]);

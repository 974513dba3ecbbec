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
    ["pair-time"] = MLNetExtensions.Benchmarks.Pairs.PairTiming.Run,
};
if (args.Length == 0 || !suites.TryGetValue(args[0], out var run))
{
    Console.Error.WriteLine($"usage: MLNetExtensions.Benchmarks <{string.Join("|", suites.Keys)}> [--threads N] [--out DIR]");
    return 2;
}
return run(args[1..]);

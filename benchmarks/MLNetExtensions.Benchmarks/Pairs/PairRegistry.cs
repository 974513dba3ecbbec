namespace MLNetExtensions.Benchmarks.Pairs;

/// <summary>Every side-by-side pair the `-- pairs` command runs, in table order. One line per pair.</summary>
public static class PairRegistry
{
    public static IReadOnlyList<PeerPair> All { get; } =
    [
        new SqueezeTimeK400Pair(),
        new SqueezeTimeTinyPair(),
        new SsaHeadPair(),
    ];
}

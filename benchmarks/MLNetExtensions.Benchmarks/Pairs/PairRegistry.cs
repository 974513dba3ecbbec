namespace MLNetExtensions.Benchmarks.Pairs;

/// <summary>Every side-by-side pair the `-- pairs` command runs, in table order. One line per pair.</summary>
public static class PairRegistry
{
    public static IReadOnlyList<PeerPair> All { get; } =
    [
        new TinyViMPair("tinyvim-tiny", "Tiny", 64, 64),
        new TinyViMPair("tinyvim-s", "S", 224, 8),
        new SqueezeTimeK400Pair(),
        new SqueezeTimeTinyPair(),
        new SlabDeitPair(64),
        new SlabSwinPair(64),
        new SsaHeadPair(),
    ];
}

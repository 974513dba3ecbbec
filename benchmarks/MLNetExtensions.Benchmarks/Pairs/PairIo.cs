using System.Diagnostics;
using System.Globalization;
using MLNetExtensions.Core.IO;
using static TorchSharp.torch;

namespace MLNetExtensions.Benchmarks.Pairs;

/// <summary>Files and the peer process shared by the pairs.</summary>
public static class PairIo
{
    /// <summary>A float32 .npy as a tensor of its shape.</summary>
    public static Tensor Load(string path)
    {
        return Npy.Read(path).ToTensor();
    }

    /// <summary>Runs a peer script (the `-- pairs` runner's python3 child, one thread); returns its stdout, throws with
    /// its stderr on failure.</summary>
    public static string RunPeer(string script, string[] arguments)
    {
        var r = PairsCommand.RunChild(PairsCommand.PeerProcess(script, arguments));
        if (r.ExitCode != 0) throw new InvalidOperationException($"{script} failed: {r.Stderr.Trim()}");
        return r.Stdout;
    }

    /// <summary>The <c>items_per_s=</c> value a peer printed.</summary>
    public static double ItemsPerSecond(string stdout) => PairsCommand.ParseItems(new PairsCommand.ChildResult(0, stdout, ""), "peer");
}

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

    /// <summary>Runs a peer script with /usr/bin/python3; returns its stdout, throws with its stderr on failure.</summary>
    public static string RunPeer(string script, string[] arguments)
    {
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "python", script));
        foreach (var s in arguments) psi.ArgumentList.Add(s);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{script} failed: {err.Result.Trim()}");
        return stdout;
    }

    /// <summary>The <c>items_per_s=</c> value a peer printed.</summary>
    public static double ItemsPerSecond(string stdout) =>
        double.Parse(stdout.Split('\n').Last(l => l.StartsWith("items_per_s="))["items_per_s=".Length..].Trim(), CultureInfo.InvariantCulture);
}

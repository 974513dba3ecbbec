using System.IO.Compression;
using MLNetExtensions.Core.IO;
using MLNetExtensions.Tests.Infrastructure;
using TorchSharp;
using Xunit.Abstractions;

namespace MLNetExtensions.Tests.Slab;

/// <summary>Helpers for the SLAB fixtures in ../shared/parity/slab.</summary>
internal static class SlabFixtures
{
    public static string Path(params string[] parts) => SharedData.Parity(new[] { "slab" }.Concat(parts).ToArray());

    public static torch.Tensor Tensor(params string[] parts) => SharedData.Tensor(new[] { "slab" }.Concat(parts).ToArray());

    /// <summary>Reads every array of an .npz (a zip of .npy files) keyed by name without ".npy".</summary>
    public static Dictionary<string, NpyArray> ReadNpz(string path)
    {
        using var zip = ZipFile.OpenRead(path);
        var result = new Dictionary<string, NpyArray>();
        foreach (var e in zip.Entries)
        {
            using var s = e.Open();
            using var ms = new MemoryStream();
            s.CopyTo(ms);
            result[e.FullName.EndsWith(".npy") ? e.FullName[..^4] : e.FullName] = Npy.Parse(ms.ToArray());
        }
        return result;
    }

    /// <summary>Asserts closeness, writes the max abs error to the test log and returns it.</summary>
    public static double Close(ITestOutputHelper log, torch.Tensor expected, torch.Tensor actual, string what, double atol = 1e-4)
    {
        var err = SharedData.AssertClose(expected, actual, atol, what);
        log.WriteLine($"{what}: max abs err {err:E2}");
        return err;
    }
}

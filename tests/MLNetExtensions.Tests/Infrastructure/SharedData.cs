using System.Text.Json;
using MLNetExtensions.Core.IO;
using TorchSharp;
using Xunit;

namespace MLNetExtensions.Tests.Infrastructure;

/// <summary>Locates <c>../shared</c> (parity fixtures made with the official PyTorch code) beside the repository.</summary>
public static class SharedData
{
    private static readonly Lazy<string?> Root = new(() =>
    {
        var env = Environment.GetEnvironmentVariable("MLNETEXT_SHARED_DIR");
        if (!string.IsNullOrEmpty(env) && Directory.Exists(env)) return env;
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "MLNetExtensions.sln")))
            {
                var shared = Path.GetFullPath(Path.Combine(d.FullName, "..", "shared"));
                return Directory.Exists(shared) ? shared : null;
            }
        }
        return null;
    });

    public static bool Available => Root.Value != null;

    /// <summary>Absolute path of a file under ../shared/parity.</summary>
    public static string Parity(params string[] parts)
    {
        if (Root.Value == null) throw new InvalidOperationException("../shared is not present beside the repository.");
        return Path.Combine(new[] { Root.Value, "parity" }.Concat(parts).ToArray());
    }

    public static torch.Tensor Tensor(params string[] parts) => Npy.Read(Parity(parts)).ToTensor();

    public static JsonDocument Fixture(params string[] parts) => JsonDocument.Parse(File.ReadAllText(Parity(parts)));

    /// <summary>Asserts max |a-b| ≤ atol and returns it (so tests can report it).</summary>
    public static double AssertClose(torch.Tensor expected, torch.Tensor actual, double atol = 1e-4, string what = "output")
    {
        Assert.Equal(expected.shape, actual.shape);
        using var diff = (expected.to(torch.float64) - actual.to(torch.float64)).abs().max();
        var max = diff.item<double>();
        Assert.True(max <= atol, $"{what}: max abs diff {max:E3} > {atol:E1}");
        return max;
    }
}

/// <summary>A fact that needs ../shared. Skipped only when it is absent outside CI (a user's clone); in CI it runs and fails.</summary>
public sealed class ParityFactAttribute : FactAttribute
{
    public ParityFactAttribute()
    {
        if (!SharedData.Available && Environment.GetEnvironmentVariable("CI") != "true")
            Skip = "../shared (parity fixtures) not found beside the repository";
    }
}

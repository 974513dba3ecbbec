using TorchSharp;
using Xunit;

namespace MLNetExtensions.Tests;

public class TorchLoadsTests
{
    [Fact]
    public void NativeBackendLoadsAndComputes()
    {
        using var a = torch.ones(2, 3);
        using var b = a.sum();
        Assert.Equal(6f, b.item<float>());
    }

    // TorchSharp falls back to consolidating natives from the NuGet cache only when the app's own copy fails to
    // load; the build patches only the app's copy, so the process must have loaded that one (Linux: /proc/self/maps).
    [Fact]
    public void NativeLibraryIsTheAppsOwnCopyNotTheNuGetCaches()
    {
        using var a = torch.ones(1);
        if (!OperatingSystem.IsLinux()) return; // the maps file and the libstdc++ problem are Linux-only
        var loaded = File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Last())
            .Where(p => p.EndsWith("/libLibTorchSharp.so", StringComparison.Ordinal)).Distinct().ToList();
        var only = Assert.Single(loaded);
        Assert.StartsWith(AppContext.BaseDirectory, only);
    }
}

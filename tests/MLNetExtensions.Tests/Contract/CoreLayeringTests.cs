using System.Text.RegularExpressions;
using Xunit;

namespace MLNetExtensions.Tests.Contract;

/// <summary>
/// src/Core's folders form layers: no folder depends (through <c>using</c> directives or qualified names) on one that
/// depends back on it, so each can be read, tested and changed from the bottom up.
/// </summary>
public class CoreLayeringTests
{
    private static string CoreDir()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "MLNetExtensions.sln"))) return Path.Combine(d.FullName, "src", "Core");
        throw new DirectoryNotFoundException("MLNetExtensions.sln not found above the test binaries.");
    }

    /// <summary>Folder → the Core folders its files refer to.</summary>
    internal static Dictionary<string, HashSet<string>> Dependencies()
    {
        var root = CoreDir();
        var files = Directory.GetDirectories(root).Where(d => Path.GetFileName(d) is not ("bin" or "obj"))
            .ToDictionary(Path.GetFileName, d => Directory.GetFiles(d, "*.cs", SearchOption.AllDirectories))!;
        var types = files.ToDictionary(kv => kv.Key!, kv => kv.Value.SelectMany(f =>
            Regex.Matches(File.ReadAllText(f), @"\b(?:class|record|struct|interface|enum)\s+(\w+)").Select(m => m.Groups[1].Value)).ToHashSet());
        var deps = files.Keys.ToDictionary(k => k!, _ => new HashSet<string>());
        foreach (var (folder, paths) in files)
            foreach (var text in paths.Select(File.ReadAllText))
            {
                foreach (Match m in Regex.Matches(text, @"MLNetExtensions\.Core\.(\w+)"))
                    if (m.Groups[1].Value != folder && deps.ContainsKey(m.Groups[1].Value)) deps[folder!].Add(m.Groups[1].Value);
                foreach (Match m in Regex.Matches(text, @"(?<![\w.])(\w+)\.([A-Z]\w*)"))
                    if (m.Groups[1].Value != folder && types.TryGetValue(m.Groups[1].Value, out var t) && t.Contains(m.Groups[2].Value)) deps[folder!].Add(m.Groups[1].Value);
            }
        return deps;
    }

    [Fact]
    public void CoreFoldersHaveNoCycles()
    {
        var deps = Dependencies();
        Assert.Contains("Inference", deps["Training"]); // the scan sees real edges (a trainer creates its transformer)
        var state = new Dictionary<string, int>();
        var path = new Stack<string>();
        void Visit(string n)
        {
            state[n] = 1; path.Push(n);
            foreach (var m in deps[n])
            {
                if (state.GetValueOrDefault(m) == 1)
                    Assert.Fail($"src/Core has a cycle: {string.Join(" → ", path.Reverse().SkipWhile(x => x != m))} → {m}");
                if (state.GetValueOrDefault(m) == 0) Visit(m);
            }
            path.Pop(); state[n] = 2;
        }
        foreach (var n in deps.Keys) if (state.GetValueOrDefault(n) == 0) Visit(n);
    }
}

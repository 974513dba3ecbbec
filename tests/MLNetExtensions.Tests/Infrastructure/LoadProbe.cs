namespace MLNetExtensions.Tests.Infrastructure;

/// <summary>Finds tests/MLNetExtensions.LoadProbe (fresh-process model loading) built in the same configuration as the tests.</summary>
internal static class LoadProbe
{
    public static string Path() => BuiltProgram.Path("tests/MLNetExtensions.LoadProbe", "MLNetExtensions.LoadProbe");
}

/// <summary>Finds a program of the repository built in the same configuration as the tests (a ReferenceOutputAssembly="false" reference builds it first).</summary>
internal static class BuiltProgram
{
    public static string Path(string projectDirectory, string assemblyName)
    {
        var cfg = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')).Parent!.Name; // bin/<cfg>/net10.0
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            var p = System.IO.Path.Combine(d.FullName, projectDirectory, "bin", cfg, "net10.0", assemblyName + ".dll");
            if (File.Exists(p)) return p;
        }
        throw new FileNotFoundException($"{assemblyName} ({projectDirectory}) was not built next to the tests.");
    }
}

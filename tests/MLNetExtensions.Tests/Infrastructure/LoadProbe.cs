namespace MLNetExtensions.Tests.Infrastructure;

/// <summary>Finds tests/MLNetExtensions.LoadProbe (fresh-process model loading) built in the same configuration as the tests.</summary>
internal static class LoadProbe
{
    public static string Path()
    {
        var cfg = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')).Parent!.Name; // bin/<cfg>/net10.0
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            var p = System.IO.Path.Combine(d.FullName, "tests", "MLNetExtensions.LoadProbe", "bin", cfg, "net10.0", "MLNetExtensions.LoadProbe.dll");
            if (File.Exists(p)) return p;
        }
        throw new FileNotFoundException("LoadProbe was not built next to the tests.");
    }
}

using System.Diagnostics;
using MLNetExtensions.Testing;

namespace MLNetExtensions.Tests.Tuning.Orleans;

/// <summary>
/// A private PostgreSQL server for one test: <c>initdb</c> into a temporary folder, started on a free loopback port
/// (no network listener beyond 127.0.0.1, trust authentication), one database with Orleans' ADO.NET clustering
/// schema, stopped and deleted on dispose. Uses Debian's server binaries (<c>/usr/lib/postgresql/N/bin</c>); PostgreSQL
/// refuses to run as root, so under root every server command runs as the <c>postgres</c> system user.
/// The schema is Orleans' own (<c>PostgreSQL-Main.sql</c> + <c>PostgreSQL-Clustering.sql</c> from the Orleans
/// repository, src/AdoNet); it is not shipped here, so the caller names the folder that holds it.
/// </summary>
internal sealed class ThrowawayPostgres : IDisposable
{
    private readonly string _bin, _dir;
    private readonly bool _asPostgresUser;

    public int Port { get; }
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=orleans;Database=sweeps;Pooling=false";

    /// <summary>The newest installed server's bin folder, or null.</summary>
    public static string? FindBinaries() =>
        Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin"))
                .Where(b => File.Exists(Path.Combine(b, "initdb"))).OrderByDescending(b => b, StringComparer.Ordinal).FirstOrDefault()
            : null;

    public ThrowawayPostgres(string schemaDirectory)
    {
        _bin = FindBinaries() ?? throw new InvalidOperationException("No PostgreSQL server binaries under /usr/lib/postgresql/*/bin (Debian package postgresql).");
        var scripts = new[] { "PostgreSQL-Main.sql", "PostgreSQL-Clustering.sql" }.Select(f => Path.Combine(schemaDirectory, f)).ToArray();
        foreach (var s in scripts)
            if (!File.Exists(s)) throw new FileNotFoundException($"MLNETEXT_ORLEANS_SQL_DIR: '{s}' not found; the folder must hold Orleans' PostgreSQL-Main.sql and PostgreSQL-Clustering.sql.", s);
        _asPostgresUser = Environment.UserName == "root";
        _dir = Directory.CreateTempSubdirectory("mlx-pg").FullName;
        if (_asPostgresUser) Run("chown", "postgres", _dir);
        Port = LoopbackPorts.Free(1)[0];
        Server("initdb", "-D", Path.Combine(_dir, "data"), "-A", "trust", "-U", "orleans", "--no-sync");
        Server("pg_ctl", "-D", Path.Combine(_dir, "data"), "-l", Path.Combine(_dir, "server.log"), "-w",
               "-o", $"-p {Port} -k {_dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start");
        Server("createdb", "-h", "127.0.0.1", "-p", Port.ToString(), "-U", "orleans", "sweeps");
        foreach (var s in scripts) Sql("-v", "ON_ERROR_STOP=1", "-f", s);
    }

    /// <summary>Runs one SQL query and returns psql's unaligned, tuples-only output lines.</summary>
    public string[] Query(string sql) => Sql("-At", "-c", sql).Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private string Sql(params string[] args) =>
        Server("psql", ["-q", "-h", "127.0.0.1", "-p", Port.ToString(), "-U", "orleans", "-d", "sweeps", .. args]);

    private string Server(string tool, params string[] args) =>
        _asPostgresUser ? Run("runuser", ["-u", "postgres", "--", Path.Combine(_bin, tool), .. args]) : Run(Path.Combine(_bin, tool), args);

    private static string Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(60))) { p.Kill(true); throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in 60 s."); }
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {p.ExitCode}: {stderr.Result}");
        return stdout.Result;
    }

    public void Dispose()
    {
        try { Server("pg_ctl", "-D", Path.Combine(_dir, "data"), "-m", "immediate", "-w", "stop"); }
        catch (Exception) { /* already stopped */ }
        Directory.Delete(_dir, recursive: true);
    }
}

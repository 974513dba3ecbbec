using Microsoft.Extensions.Configuration;

namespace MLNetExtensions.Tuning.Orleans;

/// <summary>How the processes of a sweep find each other (configuration section <c>SweepCluster</c>).</summary>
public sealed class SweepClusterOptions
{
    /// <summary>The configuration section read by <see cref="FromConfiguration"/>.</summary>
    public const string SectionName = "SweepCluster";

    /// <summary>
    /// <c>Localhost</c>: one machine, development and tests; the silo at <see cref="PrimarySiloEndpoint"/> (the
    /// coordinator's) holds the membership in memory. <c>AdoNet</c>: several machines; membership in a database
    /// (PostgreSQL, SQL Server, MySQL, Oracle) given by <see cref="AdoNetInvariant"/> and <see cref="AdoNetConnectionString"/>.
    /// Default <c>Localhost</c>.
    /// </summary>
    public string Clustering { get; set; } = "Localhost";
    /// <summary>Orleans cluster id: processes with the same id form one cluster. Default <c>mlnetext-sweeps</c>.</summary>
    public string ClusterId { get; set; } = "mlnetext-sweeps";
    /// <summary>Orleans service id (stays the same across deployments). Default <c>mlnetext-sweeps</c>.</summary>
    public string ServiceId { get; set; } = "mlnetext-sweeps";
    /// <summary>This silo's port for silo-to-silo traffic. Every process on one machine needs its own. Default 11111.</summary>
    public int SiloPort { get; set; } = 11111;
    /// <summary>This silo's gateway port for clients (0 = no gateway). Default 30000.</summary>
    public int GatewayPort { get; set; } = 30000;
    /// <summary>Localhost clustering: the silo holding the membership, <c>host:port</c> of its silo port. Default <c>127.0.0.1:11111</c>.</summary>
    public string PrimarySiloEndpoint { get; set; } = "127.0.0.1:11111";
    /// <summary>AdoNet clustering: ADO.NET provider invariant, e.g. <c>Npgsql</c> or <c>Microsoft.Data.SqlClient</c> (the application references that package). Default <c>Npgsql</c>.</summary>
    public string AdoNetInvariant { get; set; } = "Npgsql";
    /// <summary>AdoNet clustering: the membership database's connection string. Default null.</summary>
    public string? AdoNetConnectionString { get; set; }
    /// <summary>AdoNet clustering: the address other machines reach this silo at; null = the first IPv4 address of this host. Default null.</summary>
    public string? AdvertisedIPAddress { get; set; }
    /// <summary>
    /// Failure detection: how long a silo waits for a probe's answer. Null = Orleans' default (5 s). Lower it on a
    /// quiet LAN to notice a dead worker sooner (tests use 0.5 s). Default null.
    /// </summary>
    public TimeSpan? ProbeTimeout { get; set; }
    /// <summary>Failure detection: missed probes before a silo suspects another. Null = Orleans' default (3). Default null.</summary>
    public int? NumMissedProbesLimit { get; set; }
    /// <summary>Failure detection: suspicions needed to declare a silo dead. Null = Orleans' default (2). Default null.</summary>
    public int? NumVotesForDeathDeclaration { get; set; }
    /// <summary>The worker part of this process.</summary>
    public SweepWorkerOptions Worker { get; set; } = new();
    /// <summary>The coordinator part of this process.</summary>
    public OrleansTrialExecutorOptions Coordinator { get; set; } = new();

    /// <summary>Reads the <c>SweepCluster</c> section (missing keys keep their defaults).</summary>
    public static SweepClusterOptions FromConfiguration(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = new SweepClusterOptions();
        configuration.GetSection(SectionName).Bind(options);
        return options;
    }

    internal void Validate()
    {
        if (!string.Equals(Clustering, "Localhost", StringComparison.OrdinalIgnoreCase) && !string.Equals(Clustering, "AdoNet", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"SweepCluster:Clustering is '{Clustering}'; expected 'Localhost' or 'AdoNet'.");
        if (SiloPort is < 1 or > 65535) throw new ArgumentOutOfRangeException(nameof(SiloPort), SiloPort, "SweepCluster:SiloPort must be a port (1-65535).");
        if (GatewayPort is < 0 or > 65535) throw new ArgumentOutOfRangeException(nameof(GatewayPort), GatewayPort, "SweepCluster:GatewayPort must be 0 (none) or a port.");
        if (IsAdoNet && string.IsNullOrWhiteSpace(AdoNetConnectionString))
            throw new ArgumentException("SweepCluster:Clustering is 'AdoNet' but SweepCluster:AdoNetConnectionString is empty.");
    }

    internal bool IsAdoNet => string.Equals(Clustering, "AdoNet", StringComparison.OrdinalIgnoreCase);
}

using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using MLNetExtensions.Core.Tuning;
using Orleans.Configuration;
using Orleans.Hosting;

namespace MLNetExtensions.Tuning.Orleans;

/// <summary>Silo set-up for sweeps: clustering from <see cref="SweepClusterOptions"/>, the worker, the registered sweeps.</summary>
public static class SweepClusterExtensions
{
    /// <summary>Clustering, ids and ports of this silo from <paramref name="options"/> (Localhost or AdoNet).</summary>
    public static ISiloBuilder UseSweepCluster(this ISiloBuilder silo, SweepClusterOptions options)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (options.IsAdoNet)
        {
            silo.UseAdoNetClustering(o => { o.Invariant = options.AdoNetInvariant; o.ConnectionString = options.AdoNetConnectionString; });
            var address = options.AdvertisedIPAddress != null ? IPAddress.Parse(options.AdvertisedIPAddress) : FirstIPv4();
            silo.ConfigureEndpoints(address, options.SiloPort, options.GatewayPort, listenOnAnyHostAddress: true);
        }
        else
        {
            silo.UseLocalhostClustering(options.SiloPort, options.GatewayPort, ParseEndpoint(options.PrimarySiloEndpoint));
        }
        silo.Configure<ClusterOptions>(o => { o.ClusterId = options.ClusterId; o.ServiceId = options.ServiceId; });
        silo.Configure<ClusterMembershipOptions>(o =>
        {
            if (options.ProbeTimeout is { } probe) o.ProbeTimeout = probe;
            if (options.NumMissedProbesLimit is { } missed) o.NumMissedProbesLimit = missed;
            if (options.NumVotesForDeathDeclaration is { } votes) o.NumVotesForDeathDeclaration = votes;
        });
        return silo.AddSweepWorker(w =>
        {
            w.MaxConcurrentTrialsPerWorker = options.Worker.MaxConcurrentTrialsPerWorker;
            w.TorchThreadsPerTrial = options.Worker.TorchThreadsPerTrial;
            w.Name = options.Worker.Name;
            w.OrphanTimeout = options.Worker.OrphanTimeout;
        });
    }

    /// <summary>
    /// The sweep worker of this silo (every silo of a sweep cluster needs it, also a coordinator's with capacity 0:
    /// it brings the placement that routes calls to a given silo).
    /// </summary>
    public static ISiloBuilder AddSweepWorker(this ISiloBuilder silo, Action<SweepWorkerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(silo);
        if (configure != null) silo.Services.Configure(configure);
        if (silo.Services.Any(d => d.ServiceType == typeof(SweepWorker))) return silo;
        silo.Services.AddOptions<SweepWorkerOptions>();
        silo.Services.TryAddSingleton<SweepRegistry>(sp => SweepRegistry.From(sp.GetServices<SweepRegistration>()));
        silo.Services.AddSingleton<SweepWorker>();
        silo.Services.AddPlacementDirector<SiloTargetedPlacement, SiloTargetedPlacementDirector>();
        return silo;
    }

    /// <summary>Registers a sweep under <paramref name="name"/>: <paramref name="factory"/> builds the same sweep the coordinator runs.</summary>
    public static ISiloBuilder AddSweep(this ISiloBuilder silo, string name, Func<IServiceProvider, ISweepTrialRunner> factory)
    {
        ArgumentNullException.ThrowIfNull(silo);
        if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException("A sweep name must not be empty.", nameof(name));
        ArgumentNullException.ThrowIfNull(factory);
        silo.Services.AddSingleton(new SweepRegistration(name, factory));
        return silo;
    }

    private static IPEndPoint ParseEndpoint(string text) =>
        IPEndPoint.TryParse(text, out var ep) && ep.Port != 0 ? ep
            : throw new ArgumentException($"SweepCluster:PrimarySiloEndpoint '{text}' is not host:port (e.g. 127.0.0.1:11111).");

    private static IPAddress FirstIPv4() =>
        Dns.GetHostAddresses(Dns.GetHostName()).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))
        ?? throw new InvalidOperationException("No IPv4 address found for this host; set SweepCluster:AdvertisedIPAddress.");
}

/// <summary>A sweep registered on a worker by <see cref="SweepClusterExtensions.AddSweep"/>.</summary>
/// <param name="Name">The sweep's name.</param>
/// <param name="Factory">Builds the sweep definition.</param>
public sealed record SweepRegistration(string Name, Func<IServiceProvider, ISweepTrialRunner> Factory);

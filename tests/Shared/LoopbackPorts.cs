using System.Net;
using System.Net.Sockets;

namespace MLNetExtensions.Testing;

/// <summary>
/// Free TCP ports on 127.0.0.1 for processes a test or benchmark starts (silos, gateways, a database). Compiled into
/// both the test and the benchmark assembly (linked source: the two share no library).
/// </summary>
internal static class LoopbackPorts
{
    /// <summary><paramref name="n"/> distinct ports that were free a moment ago (all held open together, then released).</summary>
    public static int[] Free(int n)
    {
        var listeners = Enumerable.Range(0, n).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToArray();
        foreach (var l in listeners) l.Start();
        var ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        foreach (var l in listeners) l.Stop();
        return ports;
    }
}

using System.Runtime.CompilerServices;

namespace MLNetExtensions.Tests.Infrastructure;

/// <summary>
/// Forces full garbage collections and finaliser runs continuously on a background thread, so a TorchSharp
/// <c>Scalar</c> left unrooted during a native call is freed inside the call (issue 13.3's race made reproducible).
/// <c>MLNETEXT_GC_TORTURE=1</c> turns it on for the whole test run; tests also start it around one piece of work.
/// </summary>
internal sealed class GcTorture : IDisposable
{
    private readonly Thread _thread;
    private volatile bool _stop;
    private long _collections;

    /// <summary>Full collections + finaliser drains done so far.</summary>
    public long Collections => Interlocked.Read(ref _collections);

    private GcTorture()
    {
        _thread = new Thread(() =>
        {
            while (!_stop)
            {
                // Garbage to collect each round (Scalars die young: gen-0 collections find them).
                _ = new byte[1024];
                GC.Collect(0, GCCollectionMode.Forced, blocking: true);
                GC.WaitForPendingFinalizers();
                Interlocked.Increment(ref _collections);
            }
        }) { IsBackground = true, Name = "gc-torture" };
        _thread.Start();
    }

    /// <summary>Starts forcing collections until disposed.</summary>
    public static GcTorture Start() => new();

    /// <summary>Whether the whole run is under torture (<c>MLNETEXT_GC_TORTURE=1</c>).</summary>
    public static bool WholeRun => Environment.GetEnvironmentVariable("MLNETEXT_GC_TORTURE") == "1";

    public void Dispose() { _stop = true; _thread.Join(); }

    private static GcTorture? _global;

    [ModuleInitializer]
    internal static void StartForWholeRun()
    {
        if (WholeRun) _global = Start();
    }
}

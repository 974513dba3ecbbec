using Microsoft.Extensions.Configuration;

namespace MLNetExtensions.Examples.SweepsDistributed;

/// <summary>The example's own settings (section <c>Sweep</c>): which sweep, where its results go, its size.</summary>
public sealed class SweepSettings
{
    /// <summary><c>mlp</c> (a small TorchSharp training per trial) or <c>toy</c> (a fixed sleep, for tests). Default mlp.</summary>
    public string Name { get; set; } = "mlp";
    /// <summary>The coordinator's results CSV (resumable). Default out/sweep.csv.</summary>
    public string Results { get; set; } = "out/sweep.csv";
    /// <summary>Seeds per setting. Default 2.</summary>
    public int Seeds { get; set; } = 2;
    /// <summary>Training steps of one mlp trial. Default 150.</summary>
    public int Steps { get; set; } = 150;
    /// <summary>Duration of one toy trial in milliseconds. Default 1000.</summary>
    public int ToyMilliseconds { get; set; } = 1000;

    /// <summary>Coordinator: wait for this many workers before the sweep starts (timings). Default 0.</summary>
    public int WaitForWorkers { get; set; }
    /// <summary>--in-process: torch threads of this process (the workers use SweepCluster:Worker:TorchThreadsPerTrial). Default 1.</summary>
    public int TorchThreads { get; set; } = 1;

    public static SweepSettings From(IConfiguration configuration)
    {
        var s = new SweepSettings();
        configuration.GetSection("Sweep").Bind(s);
        return s;
    }
}

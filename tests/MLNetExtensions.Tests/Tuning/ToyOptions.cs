using MLNetExtensions.Core.Training;
using MLNetExtensions.Core.Tuning;

namespace MLNetExtensions.Tests.Tuning;

/// <summary>An options class of every property kind a sweep meets, with attribute-declared defaults on two of them.</summary>
public sealed class ToyOptions
{
    [SweepRange(1e-4, 1e-1, LogBase = true, GridPoints = 4)]
    public double Rate { get; set; } = 0.01;
    [SweepChoice(1, 2, 4)]
    public int Width { get; set; } = 1;
    public float Scale { get; set; } = 1f;
    public long Steps { get; set; }
    public int? Patience { get; set; }
    public string Mode { get; set; } = "a";
    public bool Flag { get; set; }
    public LearningRateSchedule Schedule { get; set; }
    public double Computed => Rate * 2;
    public ToyOptions Inner { get; set; } = null!;
}

namespace MLNetExtensions.Core.Tuning;

/// <summary>
/// Options a sweep can seed and cancel per trial (the suite's <c>TorchTrainerOptions</c> implement it); other options
/// classes are swept too, without per-repeat seeds.
/// </summary>
public interface ISweepableOptions
{
    /// <summary>Random seed of the run.</summary>
    int? Seed { get; set; }
    /// <summary>Cancels the run.</summary>
    CancellationToken CancellationToken { get; set; }
}

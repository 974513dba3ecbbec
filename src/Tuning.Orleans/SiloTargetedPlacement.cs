using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace MLNetExtensions.Tuning.Orleans;

/// <summary>
/// Places a grain on the silo named by its key (<see cref="SiloAddress.ToParsableString"/>): the coordinator talks to
/// the worker of one particular silo. A key whose silo is not (or no longer) in the cluster fails the call instead of
/// activating the grain elsewhere, so a lost worker is noticed, never silently replaced.
/// </summary>
[Serializable, GenerateSerializer, Immutable, SuppressReferenceTracking]
public sealed class SiloTargetedPlacement : PlacementStrategy
{
    internal static readonly SiloTargetedPlacement Instance = new();
}

/// <summary>Marks a grain class for <see cref="SiloTargetedPlacement"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class SiloTargetedPlacementAttribute : PlacementAttribute
{
    /// <summary>Creates the attribute.</summary>
    public SiloTargetedPlacementAttribute() : base(SiloTargetedPlacement.Instance) { }
}

internal sealed class SiloTargetedPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var key = target.GrainIdentity.Key.ToString()!;
        SiloAddress silo;
        try { silo = SiloAddress.FromParsableString(key); }
        catch (Exception e) { throw new ArgumentException($"Grain key '{key}' is not a silo address.", e); }
        if (!context.GetCompatibleSilos(target).Contains(silo))
            throw new SiloUnavailableException($"Silo {silo} is not an active member of the cluster (the sweep worker there is gone).");
        return Task.FromResult(silo);
    }
}

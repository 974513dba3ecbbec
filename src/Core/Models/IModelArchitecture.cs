namespace MLNetExtensions.Core.Models;

/// <summary>
/// A typed architecture record (a family's config: widths, depths, variant, deploy form…). Trainers build their network
/// from one of these through <see cref="TorchModelRegistry.Build"/>; the registry serialises it into the model
/// description, so a loaded model rebuilds the same network. Implement it explicitly so the name is not serialised.
/// </summary>
public interface IModelArchitecture
{
    /// <summary>Registered family name (<see cref="TorchModelRegistry"/>).</summary>
    string ArchitectureName { get; }
}

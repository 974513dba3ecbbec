using System.Text.Json;
using MLNetExtensions.Core.Models;

namespace MLNetExtensions.Transforms.Fustal;

/// <summary>
/// What a saved FuSTAL teacher needs to rebuild its network and serve it: the CoLA configuration, the fixed length T the
/// snippet sequence is resampled to (official 750), and the proposal post-processing settings (note fustal.md §3.5).
/// </summary>
/// <param name="Config">CoLA hyper-parameters (its class count is replaced by the data's).</param>
/// <param name="SampledLength">T: training resamples every video to T snippets (random perturb); serving samples longer videos uniformly to T and keeps shorter ones whole.</param>
/// <param name="Proposals">Proposal post-processing (thresholds, OIC, NMS, snippet timing).</param>
public sealed record CoLATeacherArchitecture(CoLAConfig Config, int SampledLength, ProposalOptions Proposals) : IModelArchitecture
{
    string IModelArchitecture.ArchitectureName => Name;

    /// <summary>Name in <see cref="TorchModelRegistry"/>.</summary>
    public const string Name = "fustal-cola-teacher";

    /// <summary>Builds the network of a saved record.</summary>
    public static TorchNetwork Build(string json, int numClasses)
    {
        var spec = Parse(json);
        return TorchNetwork.Named(new CoLATeacherNetwork(spec.Config with { NumClasses = numClasses }, spec.SampledLength));
    }

    /// <summary>Reads a record from its JSON.</summary>
    public static CoLATeacherArchitecture Parse(string json) =>
        JsonSerializer.Deserialize<CoLATeacherArchitecture>(json) ?? throw new InvalidDataException("Empty FuSTAL teacher architecture record.");
}

using System.Text.Json;
using MLNetExtensions.Core.Models;
using MLNetExtensions.Transforms.Language;
using TorchSharp;

namespace MLNetExtensions.Transforms.Rlhf.RewardModels;

/// <summary>
/// The reward network's record (<see cref="TextRewardNetwork"/>): the suite's causal trunk over
/// <c>[prompt | context | response]</c> and a head of <see cref="Kind"/>. Note §7.2 asks for about 60–120k parameters
/// (d = 64, 2 layers, 4 heads), the defaults here. <see cref="Bidirectional"/> runs the trunk as an encoder (every
/// position sees every real token, as the paper's Longformer); false keeps it causal.
/// </summary>
public sealed record TextRewardModelArchitecture(TextRewardModelKind Kind, int VocabSize, int DModel = 64, int Layers = 2, int Heads = 4,
    int FfnDim = 128, int MaxPositions = 96, bool HasContext = false, int SeparatorId = Core.Text.TextTokenizer.SepId,
    bool Bidirectional = false) : IModelArchitecture
{
    /// <summary>Registered family name.</summary>
    public const string Name = "TextRewardModel";
    string IModelArchitecture.ArchitectureName => Name;

    /// <summary>The trunk's configuration.</summary>
    public CausalLmConfig Trunk => new(VocabSize, DModel, Layers, Heads, FfnDim, MaxPositions);

    /// <summary>Registry factory.</summary>
    public static TorchNetwork Build(string json, int classes) =>
        TorchNetwork.Named(new TextRewardNetwork(JsonSerializer.Deserialize<TextRewardModelArchitecture>(json)
            ?? throw new InvalidDataException("TextRewardModel: empty architecture record.")));
}

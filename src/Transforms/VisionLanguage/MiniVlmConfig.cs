using MLNetExtensions.Core.Models;
using MLNetExtensions.Transforms.Language;

namespace MLNetExtensions.Transforms.VisionLanguage;

/// <summary>
/// Architecture of a <see cref="MiniVlm"/>: the frozen <see cref="ConvVisionTower"/>, an <see cref="LdpV2Projector"/>
/// (the 8×8 scene grid pooled to <paramref name="PooledSide"/>²) and a <see cref="CausalLm"/> of the given size.
/// </summary>
/// <param name="VocabSize">Tokenizer vocabulary.</param>
/// <param name="DModel">LM and projector width.</param>
/// <param name="Layers">LM blocks.</param>
/// <param name="Heads">LM heads (layer-0 attention maps have this many heads).</param>
/// <param name="FfnDim">LM MLP width (0 = 4·DModel).</param>
/// <param name="MaxPositions">Longest spliced sequence.</param>
/// <param name="PooledSide">Projector output grid side (vision tokens = side²).</param>
/// <param name="MaxAnswerTokens">Most tokens the served (greedy) answer may have, eos included.</param>
public sealed record MiniVlmConfig(int VocabSize, int DModel = 64, int Layers = 3, int Heads = 4, int FfnDim = 0, int MaxPositions = 32, int PooledSide = 4,
    int MaxAnswerTokens = 4)
    : IModelArchitecture
{
    /// <summary>Registry name.</summary>
    public const string Name = "MiniVlm";
    string IModelArchitecture.ArchitectureName => Name;

    /// <summary>Vision tokens spliced in place of the image placeholder.</summary>
    public int VisionTokens => PooledSide * PooledSide;

    /// <summary>The LM's configuration.</summary>
    public CausalLmConfig Lm => new(VocabSize, DModel, Layers, Heads, FfnDim > 0 ? FfnDim : 4 * DModel, MaxPositions);

    /// <summary>Throws naming the first invalid field.</summary>
    public void Validate()
    {
        if (PooledSide < 1 || PooledSide > 8) throw new ArgumentOutOfRangeException(nameof(PooledSide), PooledSide, "PooledSide must be in 1..8 (the scene grid is 8×8).");
        if (MaxPositions <= VisionTokens) throw new ArgumentOutOfRangeException(nameof(MaxPositions), MaxPositions, $"MaxPositions must exceed the {VisionTokens} vision tokens.");
        if (MaxAnswerTokens < 1) throw new ArgumentOutOfRangeException(nameof(MaxAnswerTokens), MaxAnswerTokens, "MaxAnswerTokens must be ≥ 1.");
        Lm.Validate();
    }
}

namespace MLNetExtensions.Transforms.Language;

/// <summary>
/// Architecture of a <see cref="CausalLm"/> / <see cref="CausalScoreModel"/>: a decoder-only, pre-LayerNorm,
/// GPT-2-like transformer with learned absolute positions.
/// </summary>
/// <param name="VocabSize">Token vocabulary (embedding rows, logits width).</param>
/// <param name="DModel">Hidden size.</param>
/// <param name="Layers">Number of transformer blocks.</param>
/// <param name="Heads">Attention heads (must divide <paramref name="DModel"/>).</param>
/// <param name="FfnDim">MLP hidden size (GPT-2: 4·d).</param>
/// <param name="MaxPositions">Longest sequence (learned position table rows).</param>
/// <param name="Dropout">Dropout on embeddings, attention probabilities and residual branches (train mode only).</param>
/// <param name="TieEmbeddings">True: the LM head reuses the token embedding matrix (no <c>lm_head</c> parameter).</param>
/// <param name="LayerNormEps">LayerNorm epsilon.</param>
public sealed record CausalLmConfig(
    int VocabSize,
    int DModel = 64,
    int Layers = 2,
    int Heads = 4,
    int FfnDim = 256,
    int MaxPositions = 64,
    double Dropout = 0.0,
    bool TieEmbeddings = false,
    double LayerNormEps = 1e-5)
{
    /// <summary>Per-head size.</summary>
    public int HeadDim => DModel / Heads;

    /// <summary>Throws naming the first invalid field.</summary>
    public void Validate()
    {
        if (VocabSize < 2) throw new ArgumentOutOfRangeException(nameof(VocabSize), VocabSize, "CausalLmConfig.VocabSize must be at least 2.");
        if (DModel < 1) throw new ArgumentOutOfRangeException(nameof(DModel), DModel, "CausalLmConfig.DModel must be positive.");
        if (Layers < 1) throw new ArgumentOutOfRangeException(nameof(Layers), Layers, "CausalLmConfig.Layers must be at least 1.");
        if (Heads < 1 || DModel % Heads != 0)
            throw new ArgumentOutOfRangeException(nameof(Heads), Heads, $"CausalLmConfig.Heads must be positive and divide DModel ({DModel}).");
        if (FfnDim < 1) throw new ArgumentOutOfRangeException(nameof(FfnDim), FfnDim, "CausalLmConfig.FfnDim must be positive.");
        if (MaxPositions < 1) throw new ArgumentOutOfRangeException(nameof(MaxPositions), MaxPositions, "CausalLmConfig.MaxPositions must be positive.");
        if (Dropout < 0 || Dropout >= 1) throw new ArgumentOutOfRangeException(nameof(Dropout), Dropout, "CausalLmConfig.Dropout must be in [0, 1).");
        if (LayerNormEps <= 0) throw new ArgumentOutOfRangeException(nameof(LayerNormEps), LayerNormEps, "CausalLmConfig.LayerNormEps must be positive.");
    }
}

namespace MLNetExtensions.Transforms.GeminiFusion;

/// <summary>
/// Ablations of the fusion for the note's experiments (§6.5); none is in the official code. The parameters stay
/// (official keys and shapes, so checkpoints still load); an ablated part is simply not used in the forward.
/// </summary>
/// <param name="NoiseFixedZero">Self key/value = the token itself (noise rows fixed at 0). With the note's
/// "removed (self entry = q)" this is the same network.</param>
/// <param name="ConstantRelation">Relation score = the constant 1/C instead of the judger's channel softmax.</param>
/// <param name="FuseFromStage">First stage (0-based) whose blocks fuse; earlier stages run the two streams without
/// fusion (e.g. the last stage of a two-stage model only: 1). 0 = every layer (official).</param>
/// <param name="Simple">A simple fusion in GeminiFusion's place (the accuracy baselines): add or concat + MLP.</param>
/// <param name="NoFusion">No fusion at all: the streams share weights but never exchange information (unimodal
/// baselines, with the same column twice as both modalities).</param>
public sealed record GeminiFusionAblation(bool NoiseFixedZero = false, bool ConstantRelation = false, int FuseFromStage = 0,
    SimpleFusionKind Simple = SimpleFusionKind.None, bool NoFusion = false)
{
    /// <summary>Sets the switches on every fusion layer of <paramref name="encoder"/>.</summary>
    public void Apply(GeminiMitEncoder encoder)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        if (FuseFromStage < 0 || FuseFromStage >= encoder.Config.NumStages)
            throw new ArgumentOutOfRangeException(nameof(FuseFromStage), FuseFromStage, $"FuseFromStage must name one of the {encoder.Config.NumStages} stages (0-based).");
        for (int s = 0; s < encoder.Config.NumStages; s++)
            foreach (var block in encoder.Blocks(s))
            {
                var f = block.Attention.Fusion;
                f.Enabled = !NoFusion && s >= FuseFromStage;
                f.SimpleFusion = Simple;
                f.NoiseFixedZero = NoiseFixedZero;
                f.ConstantRelation = ConstantRelation;
            }
    }
}

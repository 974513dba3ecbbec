using MLNetExtensions.Core.Models;
using MLNetExtensions.Core.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Excp;

/// <summary>How a training run resumed from a lossy chain step sets Adam's step count (the bias-correction clock).</summary>
public enum ExcpResumeAdamStep
{
    /// <summary>
    /// Restart the bias correction (step 0) when the step is a lossy link; keep the true step for a lossless key frame.
    /// ExCP zeroes both moments for most entries; with β2 near 1 and a large step, Adam's bias correction no longer
    /// refills them and those entries take steps several times too large (Fashion-MNIST, β2 = 0.999: +0.10 loss over the
    /// first 20 steps with the true step, +0.01 with a restart; β2 = 0.95: both within 0.005, docs/excp.md).
    /// </summary>
    Restart,
    /// <summary>Restore the checkpoint's true step (exact for lossless checkpoints; a transient after lossy ones at β2 ≈ 1).</summary>
    True,
}

/// <summary>
/// Settings of the ExCP codec. Defaults follow the official <c>compress_pythia.py</c> hyper-parameters
/// (α = 5e-5, β = 2, clamp 2.5, 4-bit streams) but fix its information losses unless
/// <see cref="OfficialCompatibility"/> is set.
/// </summary>
public sealed record ExcpOptions : ICheckpointFormat
{
    /// <summary>α of the weight criterion: τ_w = min(clamp, α/√mean(exp_avg_sq))·median(|R|). Not scale-free: small models need 40–100× the official 5e-5.</summary>
    public double Alpha { get; init; } = 5e-5;

    /// <summary>β of the momentum criterion: τ_o = β·mean(|exp_avg|).</summary>
    public double Beta { get; init; } = 2.0;

    /// <summary>Upper clamp of the weight multiplier α/√mean(v) (hard-coded 2.5 in the official code, absent from the paper).</summary>
    public double MultiplierClamp { get; init; } = 2.5;

    /// <summary>Bits per code of the weight-residual stream (1, 2, 4 or 8); 2^bits − 1 centroids, code 0 = pruned.</summary>
    public int WeightBits { get; init; } = 4;

    /// <summary>Bits per code of both moment streams (1, 2, 4 or 8).</summary>
    public int MomentBits { get; init; } = 4;

    /// <summary>
    /// Reproduce the official code exactly: float16 codebooks (which flush small second moments to 0), Adam step and
    /// hyper-parameters inherited from the parent reconstruction (hence frozen at the chain base). Default false:
    /// float32 codebooks, the checkpoint's own step and hyper-parameters.
    /// </summary>
    public bool OfficialCompatibility { get; init; }

    /// <summary>
    /// Write a lossless key frame every this many links (0 = only the first checkpoint of a chain, as the official
    /// scripts do). Key frames bound decode time of a step to the links since the last key frame, at the cost of size.
    /// </summary>
    public int KeyFrameInterval { get; init; }

    /// <summary>
    /// Floor on the fraction of weight-residual entries kept per tensor (0 = official behaviour). The median-relative
    /// threshold can prune nearly everything from a tensor whose |R| distribution is narrow while its multiplier is
    /// clamped, freezing it at the chain base (method note pitfall 12); with a floor f the ⌈f·n⌉ largest |R| survive.
    /// </summary>
    public double MinWeightKeptFraction { get; init; }

    /// <summary>
    /// zstd level of the final general-purpose pass (1–22). The quantised codes are near-incompressible noise plus
    /// long zero runs, so level 19 saves under 1 % over 3 at several times the cost (docs/excp.md).
    /// </summary>
    public int ZstdLevel { get; init; } = 3;

    /// <summary>Decode the written link again and compare its hash with the in-memory reconstruction before declaring it durable.</summary>
    public bool VerifyAfterWrite { get; init; } = true;

    /// <summary>
    /// Adam step a trainer restores when it resumes from a chain step (<see cref="ExcpResumeAdamStep"/>). A resume-time
    /// setting: not recorded in the files, and the chain always stores the true step. Default
    /// <see cref="ExcpResumeAdamStep.Restart"/>.
    /// </summary>
    public ExcpResumeAdamStep ResumeAdamStep { get; init; } = ExcpResumeAdamStep.Restart;

    /// <summary>Number of centroids for a stream of <paramref name="bits"/> bits.</summary>
    public static int Centroids(int bits) => (1 << bits) - 1;

    /// <summary>Throws <see cref="ArgumentException"/> naming the bad setting.</summary>
    public void Validate()
    {
        if (!(Alpha >= 0) || double.IsInfinity(Alpha)) throw new ArgumentException($"ExcpOptions.Alpha must be finite and ≥ 0, got {Alpha}.");
        if (!(Beta >= 0) || double.IsInfinity(Beta)) throw new ArgumentException($"ExcpOptions.Beta must be finite and ≥ 0, got {Beta}.");
        if (!(MultiplierClamp > 0)) throw new ArgumentException($"ExcpOptions.MultiplierClamp must be > 0, got {MultiplierClamp}.");
        foreach (var (n, b) in new[] { ("WeightBits", WeightBits), ("MomentBits", MomentBits) })
            if (b is not (1 or 2 or 4 or 8)) throw new ArgumentException($"ExcpOptions.{n} must be 1, 2, 4 or 8 (8 % bits == 0), got {b}.");
        if (!(MinWeightKeptFraction is >= 0 and <= 1)) throw new ArgumentException($"ExcpOptions.MinWeightKeptFraction must be in [0, 1], got {MinWeightKeptFraction}.");
        if (KeyFrameInterval < 0) throw new ArgumentException($"ExcpOptions.KeyFrameInterval must be ≥ 0, got {KeyFrameInterval}.");
        if (ZstdLevel is < 1 or > 22) throw new ArgumentException($"ExcpOptions.ZstdLevel must be in 1..22, got {ZstdLevel}.");
    }

    /// <summary>The ExCP chain in <c>checkpointDirectory/excp</c> (a new chain unless <paramref name="resume"/>).</summary>
    public ITrainingCheckpointStore Open(string checkpointDirectory, bool resume) =>
        new ExcpTrainingCheckpointStore(checkpointDirectory, this, startNewChain: !resume);

    /// <summary>Writes the chain's model card (<see cref="ExcpModelCard"/>), so any step can be served on its own.</summary>
    public void DescribeModel(string checkpointDirectory, ModelDescription description, nn.Module network) =>
        ExcpModelCard.For(description, network).Write(ExcpTrainingCheckpointStore.ChainDirectoryOf(checkpointDirectory));
}

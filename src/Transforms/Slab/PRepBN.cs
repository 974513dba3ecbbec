using MLNetExtensions.Core.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Slab;

/// <summary>Which per-token norm PRepBN starts from (its <c>norm1</c>).</summary>
public enum PRepBNStart
{
    /// <summary>LayerNorm (vision models).</summary>
    LayerNorm,
    /// <summary>RMSNorm (LLaMA experiment).</summary>
    RmsNorm,
}

/// <summary>Settings of a <see cref="PRepBN"/> (official <c>LinearNorm</c> arguments in brackets).</summary>
public sealed record PRepBNOptions
{
    /// <summary>Decay length T in training steps [<c>step</c>]: γ falls linearly from 1 to 0 over T steps.</summary>
    public long TotalSteps { get; init; } = 60_000;

    /// <summary>Pure-norm1 warm-up steps before the decay starts [<c>warm</c>]; 0 in every vision model, 10 000 in LLaMA.</summary>
    public long WarmSteps { get; init; }

    /// <summary>Starting ratio r0 [<c>r0</c>]: γ = r0·iter/T.</summary>
    public double R0 { get; init; } = 1.0;

    /// <summary>The starting norm (LayerNorm for vision, RMSNorm for LLaMA).</summary>
    public PRepBNStart Start { get; init; } = PRepBNStart.LayerNorm;

    /// <summary>Epsilon of the starting norm (LN 1e-5 in Swin, 1e-6 in DeiT; RMS 1e-6).</summary>
    public double NormEps { get; init; } = 1e-5;

    /// <summary>BatchNorm epsilon of the RepBN branch (1e-5 vision, 1e-6 LLaMA).</summary>
    public double BnEps { get; init; } = 1e-5;

    /// <summary>LLaMA initialisation: alpha = 0 and BN weight/bias = 0 (vision: alpha = 1, weight 1, bias 0).</summary>
    public bool ZeroInitRepBN { get; init; }

    /// <summary>
    /// How the schedule advances. 0 (default): only when the trainer calls <see cref="PRepBN.Step"/> (or
    /// <see cref="PRepBN.StepAll"/>) once per optimizer step. n ≥ 1: the official behaviour, a training-mode forward
    /// advances it once every n calls (vision code n = 1; LLaMA code n = 16, which adds the <c>num_step</c> buffer).
    /// </summary>
    public int AutoStepEvery { get; init; }

    /// <summary>Vision defaults (LayerNorm eps 1e-5, T = 60 000, as slab_swin).</summary>
    public static PRepBNOptions Vision { get; } = new();

    /// <summary>LLaMA-350M defaults: RMSNorm, eps 1e-6, warm-up 10 000, T = 18 000, zero-initialised RepBN.</summary>
    public static PRepBNOptions Llama { get; } = new()
    {
        TotalSteps = 18_000, WarmSteps = 10_000, Start = PRepBNStart.RmsNorm, NormEps = 1e-6, BnEps = 1e-6, ZeroInitRepBN = true,
    };
}

/// <summary>
/// Progressive re-parameterised BatchNorm (PRepBN; official <c>prepbn.LinearNorm</c>).
/// Training: after <c>warm</c> pure-norm1 steps, returns <c>γ·norm1(x) + (1−γ)·RepBN(x)</c> with
/// γ = r0·iter/T, where <c>iter</c> counts down from T to 0 (so γ decays linearly to 0 and stays there).
/// Eval: always RepBN with running statistics (γ is never read), which <see cref="NormFolding"/> can fold.
/// </summary>
/// <remarks>
/// State-dict keys (official): <c>warm</c>, <c>iter</c>, <c>total_step</c> (0-dim int64 buffers, so checkpoints
/// carry the schedule), <c>norm1.*</c> (LayerNorm or RMSNorm), <c>norm2.alpha</c>, <c>norm2.bn.*</c>; plus
/// <c>num_step</c> when <see cref="PRepBNOptions.AutoStepEvery"/> &gt; 1 (LLaMA layout).
/// Difference from the official code: there the counters move inside every training forward; here, by default,
/// the trainer advances them explicitly with <see cref="Step"/> after each optimizer step, so gradient
/// accumulation, checkpoint re-runs or extra train-mode forwards do not shift the schedule. A forward followed
/// by <see cref="Step"/> reproduces one official training forward exactly (γ is read before the decrement).
/// </remarks>
public sealed class PRepBN : nn.Module<Tensor, Tensor>, IFoldableNorm
{
    private readonly Tensor? num_step;
    private readonly Tensor warm;
    private readonly Tensor iter;
    private readonly Tensor total_step;
    private readonly nn.Module<Tensor, Tensor> norm1;
    private readonly RepBN norm2;
    private readonly PRepBNOptions options;

    /// <summary>Creates a PRepBN over <paramref name="channels"/> channels.</summary>
    public PRepBN(long channels, PRepBNOptions? options = null) : base(nameof(PRepBN))
    {
        this.options = options ?? PRepBNOptions.Vision;
        if (this.options.TotalSteps <= 0) throw new ArgumentOutOfRangeException(nameof(options), "PRepBN: TotalSteps (T) must be positive.");
        if (this.options.WarmSteps < 0) throw new ArgumentOutOfRangeException(nameof(options), "PRepBN: WarmSteps must be ≥ 0.");
        if (this.options.AutoStepEvery < 0) throw new ArgumentOutOfRangeException(nameof(options), "PRepBN: AutoStepEvery must be ≥ 0.");
        Channels = channels;
        if (this.options.AutoStepEvery > 1) num_step = torch.tensor(0L);
        warm = torch.tensor(this.options.WarmSteps);
        iter = torch.tensor(this.options.TotalSteps);
        total_step = torch.tensor(this.options.TotalSteps);
        norm1 = this.options.Start == PRepBNStart.LayerNorm
            ? nn.LayerNorm(channels, this.options.NormEps)
            : new RmsNorm(channels, this.options.NormEps);
        norm2 = new RepBN(channels, this.options.BnEps,
            alphaInit: this.options.ZeroInitRepBN ? 0.0 : 1.0, zeroInitAffine: this.options.ZeroInitRepBN);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public long Channels { get; }

    /// <summary>The options this norm was built with.</summary>
    public PRepBNOptions Options => options;

    /// <summary>The starting norm (<c>norm1</c>: LayerNorm or RMSNorm).</summary>
    public nn.Module<Tensor, Tensor> Norm1 => norm1;

    /// <summary>The RepBN branch (<c>norm2</c>), which is all that is left at inference.</summary>
    public RepBN Norm2 => norm2;

    /// <summary>Remaining warm-up steps (buffer <c>warm</c>).</summary>
    public long Warm => warm.item<long>();

    /// <summary>Remaining decay steps (buffer <c>iter</c>); γ = r0·iter/T.</summary>
    public long Iter => iter.item<long>();

    /// <summary>Decay length T (buffer <c>total_step</c>).</summary>
    public long TotalSteps => total_step.item<long>();

    /// <summary>
    /// The weight γ of norm1 that the next training forward uses: 1 during warm-up, else r0·iter/T
    /// (computed in float32 as the official code). Eval mode ignores γ.
    /// </summary>
    public float Gamma => Warm > 0 ? 1f : ComputeGamma();

    private float ComputeGamma()
    {
        // Official: `self.r0 * self.iter / self.total_step` on int64 tensors → float32, left to right.
        float num = (float)options.R0 * (float)Iter;
        return num / (float)TotalSteps;
    }

    /// <summary>
    /// Advances the schedule by one training step: decrements <c>warm</c> while it is positive, otherwise
    /// decrements <c>iter</c> while it is positive. Call once per optimizer step (default explicit mode).
    /// </summary>
    public void Step()
    {
        using var _ = torch.no_grad();
        if (Warm > 0) warm.PlusInPlace(-1L);
        else if (Iter > 0) iter.PlusInPlace(-1L);
    }

    /// <summary>Sets the schedule position: <c>iter</c> = <paramref name="iterValue"/> (0 ≤ value ≤ T) and, optionally, <c>warm</c>.</summary>
    public void SetSchedule(long iterValue, long? warmValue = null)
    {
        if (iterValue < 0 || iterValue > TotalSteps)
            throw new ArgumentOutOfRangeException(nameof(iterValue), $"PRepBN: iter must lie in [0, T={TotalSteps}], got {iterValue}.");
        if (warmValue is < 0) throw new ArgumentOutOfRangeException(nameof(warmValue), "PRepBN: warm must be ≥ 0.");
        using var _ = torch.no_grad();
        iter.FillInPlace(iterValue);
        if (warmValue.HasValue) warm.FillInPlace(warmValue.Value);
    }

    /// <summary>Normalises tokens (B, N, C).</summary>
    public override Tensor forward(Tensor x) => forward(x, null);

    /// <summary>Normalises tokens (B, N, C); <paramref name="padMask"/> (B, N) excludes pads from the BN statistics (LLaMA variant).</summary>
    public Tensor forward(Tensor x, Tensor? padMask)
    {
        TokenShape.Check(x, Channels, nameof(PRepBN));
        if (!training) return norm2.forward(x, padMask);

        var auto = options.AutoStepEvery;
        // LLaMA code: counters move only when num_step % n == 0; vision code (n = 1): on every call.
        bool advance = auto == 1 || (auto > 1 && num_step!.item<long>() % auto == 0);
        Tensor result;
        if (Warm > 0)
        {
            result = norm1.call(x);
            if (advance) { using var _ = torch.no_grad(); warm.PlusInPlace(-1L); }
        }
        else
        {
            float gamma = ComputeGamma();
            if (advance && Iter > 0) { using var _ = torch.no_grad(); iter.PlusInPlace(-1L); }
            using var scope = torch.NewDisposeScope();
            var x1 = norm1.call(x);
            var x2 = norm2.forward(x, padMask);
            result = x1.Times(gamma).Plus(x2.Times(1f - gamma)).MoveToOuterDisposeScope();
        }
        if (auto > 1) { using var _ = torch.no_grad(); num_step!.PlusInPlace(1L).RemainderInPlace(auto); }
        return result;
    }

    /// <summary>The inference map (RepBN with running statistics) as a per-channel affine.</summary>
    public (Tensor a, Tensor b) GetAffine() => norm2.GetAffine();

    /// <summary>Advances every <see cref="PRepBN"/> in <paramref name="root"/> (itself included) by one step.</summary>
    public static void StepAll(nn.Module root)
    {
        foreach (var m in Enumerate(root)) m.Step();
    }

    /// <summary>Sets <c>iter</c> (and optionally <c>warm</c>) of every <see cref="PRepBN"/> in <paramref name="root"/>.</summary>
    public static void SetScheduleAll(nn.Module root, long iterValue, long? warmValue = null)
    {
        foreach (var m in Enumerate(root)) m.SetSchedule(iterValue, warmValue);
    }

    /// <summary>All <see cref="PRepBN"/> modules in <paramref name="root"/>, itself included.</summary>
    public static IEnumerable<PRepBN> Enumerate(nn.Module root)
    {
        if (root is PRepBN self) yield return self;
        foreach (var m in root.modules()) if (m is PRepBN p) yield return p;
    }
}

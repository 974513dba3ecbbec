using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Fustal;

/// <summary>Hyper-parameters of the CoLA teacher (note fustal.md §3.1–3.2, §6; official defaults).</summary>
/// <param name="FeatureDim">Snippet feature size D (official 2048).</param>
/// <param name="NumClasses">Number of action classes C.</param>
/// <param name="EmbedDim">Embedding width (official 2048, hard-coded there).</param>
/// <param name="REasy">k_easy = T / r_easy.</param>
/// <param name="RHard">k_hard = T / r_hard.</param>
/// <param name="SmallWindow">Erosion/dilation window m.</param>
/// <param name="LargeWindow">Erosion/dilation window M.</param>
/// <param name="FeatureDropout">Dropout before the classifier.</param>
/// <param name="MiningDropout">Dropout on the all-ones mask that randomly excludes snippets from easy mining.</param>
public sealed record CoLAConfig(
    int FeatureDim = 2048, int NumClasses = 20, int EmbedDim = 2048, int REasy = 5, int RHard = 20,
    int SmallWindow = 3, int LargeWindow = 6, double FeatureDropout = 0.7, double MiningDropout = 0.6);

/// <summary>CoLA's forward outputs; owns its tensors.</summary>
/// <param name="VideoScores">(B, C) softmax over classes of the mean top-k_easy CAS.</param>
/// <param name="Cas">(B, T, C) class activation sequence (non-negative).</param>
/// <param name="Actionness">(B, T) Σ_c CAS.</param>
/// <param name="EasyAction">(B, k_easy, E) embeddings of the top actionness snippets.</param>
/// <param name="EasyBackground">(B, k_easy, E) embeddings of the lowest actionness snippets.</param>
/// <param name="HardAction">(B, k_hard, E) embeddings inside the eroded band.</param>
/// <param name="HardBackground">(B, k_hard, E) embeddings inside the dilated band.</param>
public sealed record CoLAOutput(Tensor VideoScores, Tensor Cas, Tensor Actionness, Tensor EasyAction, Tensor EasyBackground, Tensor HardAction, Tensor HardBackground) : IDisposable
{
    /// <inheritdoc/>
    public void Dispose()
    {
        VideoScores.Dispose(); Cas.Dispose(); Actionness.Dispose();
        EasyAction.Dispose(); EasyBackground.Dispose(); HardAction.Dispose(); HardBackground.Dispose();
    }
}

/// <summary>
/// The CoLA teacher (FuSTAL's CrossVideo-Generator <c>CoLA</c>): actionness module, easy/hard snippet mining for the
/// snippet contrast, and video-level scores. State-dict keys equal the official ones
/// (<c>aness_module.f_embed.0.weight</c>, <c>aness_module.f_embed.0.bias</c>, <c>aness_module.f_cls.0.weight</c>).
/// Input is a fixed-length batch (B, T, D) with T ≥ r_hard, as the official resampled T = 750.
/// </summary>
public sealed class CoLA : nn.Module<Tensor, CoLAOutput>
{
    private readonly CoLAActionnessModule aness_module;
    private readonly Dropout dropout;
    private readonly CoLAConfig _config;

    /// <summary>Creates the teacher with random weights.</summary>
    public CoLA(CoLAConfig config) : base(nameof(CoLA))
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.REasy < 1 || config.RHard < 1) throw new ArgumentOutOfRangeException(nameof(config), "r_easy and r_hard must be ≥ 1.");
        _config = config;
        // Conv1d on this CPU needs oneDNN off (see ConvolutionBackend); the suite's trainers do the same.
        MLNetExtensions.Core.Torch.ConvolutionBackend.EnsureCorrect();
        aness_module = new CoLAActionnessModule(config.FeatureDim, config.NumClasses, config.EmbedDim, config.FeatureDropout);
        dropout = nn.Dropout(config.MiningDropout);
        RegisterComponents();
    }

    /// <summary>The actionness module (embeddings, CAS, actionness).</summary>
    public CoLAActionnessModule ActionnessModule => aness_module;

    /// <summary>The configuration.</summary>
    public CoLAConfig Config => _config;

    /// <inheritdoc/>
    public override CoLAOutput forward(Tensor x)
    {
        if (x.dim() != 3 || x.shape[2] != _config.FeatureDim)
            throw new ArgumentException($"Expected features (B, T, {_config.FeatureDim}); got ({string.Join(", ", x.shape)}).", nameof(x));
        int t = (int)x.shape[1];
        int kEasy = t / _config.REasy, kHard = t / _config.RHard;
        if (kHard < 1) throw new ArgumentException($"T = {t} snippets gives k_hard = 0; T must be ≥ r_hard = {_config.RHard}.", nameof(x));

        using var scope = NewDisposeScope();
        var (emb, cas, aness) = aness_module.call(x);

        // Easy mining: a dropout mask on ones randomly excludes snippets (identity in eval mode).
        var keep = dropout.call(ones_like(aness));
        var easyAct = TopK(aness * keep, emb, kEasy);
        var easyBkg = TopK((aness.max(1, keepdim: true).values - aness) * keep, emb, kEasy);

        // Hard mining on the detached actionness, as the official numpy/scipy code.
        var (inner, outer) = HardMasks(aness);
        var hardAct = TopK(aness * inner, emb, kHard);
        var hardBkg = TopK(aness * outer, emb, kHard);

        var videoScores = VideoScores(cas, _config.REasy);

        return new CoLAOutput(
            videoScores.MoveToOuterDisposeScope(), cas.MoveToOuterDisposeScope(), aness.MoveToOuterDisposeScope(),
            easyAct.MoveToOuterDisposeScope(), easyBkg.MoveToOuterDisposeScope(), hardAct.MoveToOuterDisposeScope(), hardBkg.MoveToOuterDisposeScope());
    }

    /// <summary>Video scores of a CAS (B, T, C): softmax over classes of the mean of the ⌊T/r_easy⌋ largest values over time.</summary>
    public static Tensor VideoScores(Tensor cas, int rEasy)
    {
        int kEasy = Math.Max(1, (int)cas.shape[1] / rEasy);
        using var scope = NewDisposeScope();
        var top = cas.sort(dim: 1, descending: true).Values.narrow(1, 0, kEasy);
        return nn.functional.softmax(top.mean(new long[] { 1 }), 1).MoveToOuterDisposeScope();
    }

    /// <summary>The mining dropout (a serving wrapper registers it beside the actionness module, keeping the official keys).</summary>
    internal Dropout MiningDropout => dropout;

    private static Tensor TopK(Tensor scores, Tensor embeddings, int k)
    {
        var idx = scores.sort(dim: 1, descending: true).Indices.narrow(1, 0, k);
        return embeddings.gather(1, idx.unsqueeze(2).expand(-1, -1, embeddings.shape[2]));
    }

    private (Tensor Inner, Tensor Outer) HardMasks(Tensor aness)
    {
        int b = (int)aness.shape[0], t = (int)aness.shape[1];
        var values = aness.detach().cpu().to_type(ScalarType.Float32).data<float>().ToArray();
        var inner = new float[b * t];
        var outer = new float[b * t];
        for (int i = 0; i < b; i++)
        {
            var (inn, outr) = HardSnippetRegions.Compute(values.AsSpan(i * t, t), _config.SmallWindow, _config.LargeWindow);
            inn.CopyTo(inner, i * t);
            outr.CopyTo(outer, i * t);
        }
        return (tensor(inner, new long[] { b, t }, device: aness.device).to_type(aness.dtype),
                tensor(outer, new long[] { b, t }, device: aness.device).to_type(aness.dtype));
    }
}

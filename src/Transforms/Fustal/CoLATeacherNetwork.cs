using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Fustal;

/// <summary>
/// The CoLA teacher as a named-tensor network for serving (slot <see cref="FeaturesSlot"/>: (B, L, D) padded snippet
/// features, optional <c>feats.lengths</c>). Each video is sampled as the official test loader does
/// (<see cref="SnippetSampling.Uniform"/> to at most T snippets) and run alone, so padding never enters the convolution.
/// Outputs: <see cref="VideoScoresSlot"/> (B, C), <see cref="CasSlot"/> (B, T', C) and <see cref="ActionnessSlot"/>
/// (B, T') padded to the longest sampled video, <see cref="SampledLengthsSlot"/> and <see cref="LengthsSlot"/> (the
/// original snippet counts, for proposal timing). The state dict is CoLA's official one (<c>aness_module.*</c>):
/// the wrapped <see cref="CoLA"/>'s children are registered here under their own names, so <see cref="Teacher"/> trains
/// the same parameters.
/// </summary>
public sealed class CoLATeacherNetwork : nn.Module<Dictionary<string, Tensor>, Dictionary<string, Tensor>>
{
    /// <summary>Input slot: snippet features.</summary>
    public const string FeaturesSlot = "feats";
    /// <summary>Output: video-level class scores (softmax).</summary>
    public const string VideoScoresSlot = "video_scores";
    /// <summary>Output: class activation sequence.</summary>
    public const string CasSlot = "cas";
    /// <summary>Output: actionness.</summary>
    public const string ActionnessSlot = "actionness";
    /// <summary>Output: sampled snippets per video (int64).</summary>
    public const string SampledLengthsSlot = "cas.lengths";
    /// <summary>Output: original snippets per video (int64).</summary>
    public const string LengthsSlot = "lengths";

    // Boxed: a Module field would be registered as a child and prefix every key ("_teacher.aness_module…").
    private readonly System.Runtime.CompilerServices.StrongBox<CoLA> _box;
    private readonly CoLAActionnessModule aness_module;
#pragma warning disable IDE0052 // registered so that train/eval reaches the mining dropout
    private readonly TorchSharp.Modules.Dropout dropout;
#pragma warning restore IDE0052

    /// <summary>Creates the network with random weights.</summary>
    public CoLATeacherNetwork(CoLAConfig config, int sampledLength) : base(nameof(CoLATeacherNetwork))
    {
        if (sampledLength < config.RHard) throw new ArgumentOutOfRangeException(nameof(sampledLength), sampledLength, $"T must be ≥ r_hard = {config.RHard} (k_hard = T / r_hard ≥ 1).");
        _box = new(new CoLA(config));
        SampledLength = sampledLength;
        aness_module = Teacher.ActionnessModule;
        dropout = Teacher.MiningDropout;
        RegisterComponents();
    }

    /// <summary>The CoLA module (training forward with snippet mining) sharing this network's parameters.</summary>
    public CoLA Teacher => _box.Value!;

    /// <summary>T, the resampled length.</summary>
    public int SampledLength { get; }

    /// <inheritdoc/>
    public override Dictionary<string, Tensor> forward(Dictionary<string, Tensor> inputs)
    {
        if (!inputs.TryGetValue(FeaturesSlot, out var x))
            throw new KeyNotFoundException($"The FuSTAL teacher reads slot '{FeaturesSlot}'; the batch has {string.Join(", ", inputs.Keys)}.");
        int b = (int)x.shape[0], d = (int)x.shape[2];
        if (d != Teacher.Config.FeatureDim) throw new ArgumentException($"Snippet features have {d} values; the teacher was built for {Teacher.Config.FeatureDim}.", nameof(inputs));
        long[] lengths = inputs.TryGetValue(FeaturesSlot + ".lengths", out var l)
            ? l.cpu().to_type(ScalarType.Int64).data<long>().ToArray() : Enumerable.Repeat(x.shape[1], b).ToArray();
        using var scope = NewDisposeScope();
        var scores = new List<Tensor>(); var cas = new List<Tensor>(); var aness = new List<Tensor>(); var sampled = new long[b];
        for (int i = 0; i < b; i++)
        {
            var idx = SnippetSampling.Uniform((int)lengths[i], SampledLength);
            sampled[i] = idx.Length;
            var row = x[i].index_select(0, tensor(idx.Select(v => (long)v).ToArray(), device: x.device)).unsqueeze(0);
            var (_, c, a) = aness_module.call(row);
            scores.Add(CoLA.VideoScores(c, Teacher.Config.REasy));
            cas.Add(c[0]); aness.Add(a[0]);
        }
        long longest = sampled.Max();
        Tensor Pad(Tensor t) => t.shape[0] == longest ? t
            : nn.functional.pad(t, t.dim() == 2 ? new long[] { 0, 0, 0, longest - t.shape[0] } : new long[] { 0, longest - t.shape[0] });
        return new Dictionary<string, Tensor>
        {
            [VideoScoresSlot] = cat(scores, 0).MoveToOuterDisposeScope(),
            [CasSlot] = stack(cas.Select(Pad)).MoveToOuterDisposeScope(),
            [ActionnessSlot] = stack(aness.Select(Pad)).MoveToOuterDisposeScope(),
            [SampledLengthsSlot] = tensor(sampled, device: x.device).MoveToOuterDisposeScope(),
            [LengthsSlot] = tensor(lengths, device: x.device).MoveToOuterDisposeScope(),
        };
    }
}

using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Core.Interop;
using MLNetExtensions.Core.Models;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Fustal;

/// <summary>
/// A fitted FuSTAL teacher (CoLA with cross-video contrast, note fustal.md §3). Per video row it adds the video-level
/// class scores (<c>Score</c>, Vector&lt;Single, K&gt;), the class activation sequence (Vector&lt;Single&gt; of T'×K,
/// snippet-major, T' = the sampled length), and the §3.5 proposals as parallel variable-length vectors: starts, ends
/// (seconds), OIC scores and class keys (key values = the class names) — the layout
/// <c>mlContext.TemporalLocalization().Evaluate</c> and the pseudo-label selection read.
/// Batched <c>Transform</c>, <c>PredictionEngine</c> and <c>Save/Load</c> come from <see cref="TorchTransformerBase"/>.
/// </summary>
public sealed class FustalTeacherTransformer : TorchTransformerBase
{
    internal const string LoaderSignature = "MLNetExtFustalTeacher";
    /// <summary>The task name in the model description.</summary>
    public const string TaskName = "temporal-localizer-teacher";
    private static readonly MLNetInternals.ModelVersion Version = new("MLXTFTCH", 0x00020001, 0x00020001, 0x00020001, LoaderSignature);

    private readonly CoLATeacherArchitecture _architecture;

    /// <summary>Wraps a trained network (takes ownership; it is disposed with the transformer).</summary>
    public FustalTeacherTransformer(IHostEnvironment env, ModelDescription description, TorchNetwork network, Device device)
        : base(env, nameof(FustalTeacherTransformer), description, network, device)
    {
        _architecture = CoLATeacherArchitecture.Parse(description.ConfigJson);
    }

    /// <summary>The architecture record (CoLA config, T, proposal settings).</summary>
    public CoLATeacherArchitecture Architecture => _architecture;

    /// <summary>The network (eval mode).</summary>
    public CoLATeacherNetwork Network => (CoLATeacherNetwork)Model;

    private protected override MLNetInternals.ModelVersion PersistenceVersion => Version;

    /// <summary>The teacher's output columns (video scores, CAS, proposals), in the order <see cref="Postprocess"/> fills them.</summary>
    public static OutputSpec[] Outputs(int classes, FustalOutputColumns names) => new[]
    {
        new OutputSpec(names.Score, OutputKind.Scores, CoLATeacherNetwork.VideoScoresSlot) { Shape = new[] { classes }, Classes = classes },
        new OutputSpec(names.ClassActivation, OutputKind.VariableScores, CoLATeacherNetwork.CasSlot),
        new OutputSpec(names.Start, OutputKind.VariableScores, CoLATeacherNetwork.CasSlot),
        new OutputSpec(names.End, OutputKind.VariableScores, CoLATeacherNetwork.CasSlot),
        new OutputSpec(names.SegmentScore, OutputKind.VariableScores, CoLATeacherNetwork.CasSlot),
        new OutputSpec(names.Label, OutputKind.VariableKeys, CoLATeacherNetwork.CasSlot) { Classes = classes, ClassAnnotations = true },
    };

    /// <inheritdoc/>
    protected override object[][] Postprocess(IReadOnlyDictionary<string, Tensor> outputs, int rows)
    {
        int k = Description.NumClasses;
        var scores = outputs[CoLATeacherNetwork.VideoScoresSlot].to(float32).cpu().contiguous().data<float>().ToArray();
        var casT = outputs[CoLATeacherNetwork.CasSlot].to(float32).cpu().contiguous();
        var cas = casT.data<float>().ToArray();
        var aness = outputs[CoLATeacherNetwork.ActionnessSlot].to(float32).cpu().contiguous().data<float>().ToArray();
        var sampled = outputs[CoLATeacherNetwork.SampledLengthsSlot].cpu().data<long>().ToArray();
        var lengths = outputs[CoLATeacherNetwork.LengthsSlot].cpu().data<long>().ToArray();
        int tMax = (int)casT.shape[1];
        var result = Enumerable.Range(0, 6).Select(_ => new object[rows]).ToArray();
        for (int r = 0; r < rows; r++)
        {
            int t = (int)sampled[r];
            var rowScores = scores.AsSpan(r * k, k).ToArray();
            var rowCas = cas.AsSpan(r * tMax * k, t * k).ToArray();
            var grid = new float[t, k];
            for (int i = 0; i < t; i++) for (int c = 0; c < k; c++) grid[i, c] = rowCas[i * k + c];
            var props = ProposalGenerator.Generate(grid, aness.AsSpan(r * tMax, t), rowScores, (int)lengths[r], _architecture.Proposals);
            result[0][r] = rowScores;
            result[1][r] = rowCas;
            result[2][r] = props.Select(p => (float)p.Start).ToArray();
            result[3][r] = props.Select(p => (float)p.End).ToArray();
            result[4][r] = props.Select(p => (float)p.Score).ToArray();
            result[5][r] = props.Select(p => (uint)(p.ClassIndex + 1)).ToArray();
        }
        return result;
    }

    /// <summary>ML.NET's loader entry (<c>SignatureLoadModel</c>); <paramref name="ctx"/> is its ModelLoadContext.</summary>
    private static FustalTeacherTransformer Create(IHostEnvironment env, object ctx)
    {
        var l = OpenV2(env, ctx, Version, typeof(FustalTeacherTransformer));
        return new FustalTeacherTransformer(env, l.Description, l.Network, l.Device);
    }

    internal static void RegisterLoader(ComponentCatalog catalog) =>
        RegisterLoader(catalog, typeof(FustalTeacherTransformer), LoaderSignature);
}

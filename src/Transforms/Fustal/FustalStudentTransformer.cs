using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Core.Interop;
using MLNetExtensions.Core.Models;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Fustal;

/// <summary>
/// A fitted FuSTAL student (TriDet-style detector, note fustal.md §5). Per video row it adds the MIL video scores
/// (<c>Score</c>, Vector&lt;Single, K&gt;) and the detected segments after multi-class Gaussian soft-NMS as parallel
/// variable-length vectors — <c>SegmentStart</c>, <c>SegmentEnd</c> (seconds, clipped to the video), <c>SegmentScore</c>,
/// <c>SegmentLabel</c> (keys with the class names) — the layout <c>mlContext.TemporalLocalization().Evaluate</c> reads.
/// </summary>
public sealed class FustalStudentTransformer : TorchTransformerBase
{
    internal const string LoaderSignature = "MLNetExtFustalStudent";
    /// <summary>The task name in the model description.</summary>
    public const string TaskName = "temporal-localizer";
    private static readonly MLNetInternals.ModelVersion Version = new("MLXTFSTU", 0x00020001, 0x00020001, 0x00020001, LoaderSignature);

    /// <summary>Wraps a trained network (takes ownership; it is disposed with the transformer).</summary>
    public FustalStudentTransformer(IHostEnvironment env, ModelDescription description, TorchNetwork network, Device device)
        : base(env, nameof(FustalStudentTransformer), description, network, device)
    {
        Architecture = StudentArchitecture.Parse(description.ConfigJson);
    }

    /// <summary>Network config, inference settings, grid.</summary>
    public StudentArchitecture Architecture { get; }

    private protected override MLNetInternals.ModelVersion PersistenceVersion => Version;

    /// <summary>The student's output columns, in the order <see cref="Postprocess"/> fills them.</summary>
    public static OutputSpec[] Outputs(int classes, FustalOutputColumns names) => new[]
    {
        new OutputSpec(names.Score, OutputKind.Scores, TriDetStudent.VideoScoresSlot) { Shape = new[] { classes }, Classes = classes },
        new OutputSpec(names.Start, OutputKind.VariableScores, TriDetStudent.LogitsSlot),
        new OutputSpec(names.End, OutputKind.VariableScores, TriDetStudent.LogitsSlot),
        new OutputSpec(names.SegmentScore, OutputKind.VariableScores, TriDetStudent.LogitsSlot),
        new OutputSpec(names.Label, OutputKind.VariableKeys, TriDetStudent.LogitsSlot) { Classes = classes, ClassAnnotations = true },
    };

    /// <summary>Segments (grid units) of every row of a forward's outputs.</summary>
    public static List<TemporalProposal>[] Segments(IReadOnlyDictionary<string, Tensor> outputs, int rows, int classes, TriDetInferenceOptions options)
    {
        float[] F(string slot) => outputs[slot].to(float32).cpu().contiguous().data<float>().ToArray();
        var (logits, left, right, valid, points, strides) = (F(TriDetStudent.LogitsSlot), F(TriDetStudent.LeftSlot), F(TriDetStudent.RightSlot),
            F(TriDetStudent.ValidSlot), F(TriDetStudent.PointsSlot), F(TriDetStudent.StridesSlot));
        return Enumerable.Range(0, rows).Select(r => TriDetDecoder.Decode(logits, left, right, valid, points, strides, r, classes, options)).ToArray();
    }

    /// <inheritdoc/>
    protected override object[][] Postprocess(IReadOnlyDictionary<string, Tensor> outputs, int rows)
    {
        int k = Description.NumClasses;
        var scores = outputs[TriDetStudent.VideoScoresSlot].to(float32).cpu().contiguous().data<float>().ToArray();
        var lengths = outputs[TriDetStudent.LengthsSlot].cpu().data<long>().ToArray();
        var segments = Segments(outputs, rows, k, Architecture.Inference);
        var result = Enumerable.Range(0, 5).Select(_ => new object[rows]).ToArray();
        var grid = Architecture.Grid;
        for (int r = 0; r < rows; r++)
        {
            double duration = grid.Duration(lengths[r]);
            var seg = segments[r].Select(s => s with
            {
                Start = Math.Clamp(grid.ToSeconds(s.Start), 0, duration), End = Math.Clamp(grid.ToSeconds(s.End), 0, duration),
            }).ToList();
            result[0][r] = scores.AsSpan(r * k, k).ToArray();
            result[1][r] = seg.Select(s => (float)s.Start).ToArray();
            result[2][r] = seg.Select(s => (float)s.End).ToArray();
            result[3][r] = seg.Select(s => (float)s.Score).ToArray();
            result[4][r] = seg.Select(s => (uint)(s.ClassIndex + 1)).ToArray();
        }
        return result;
    }

    /// <summary>ML.NET's loader entry (<c>SignatureLoadModel</c>); <paramref name="ctx"/> is its ModelLoadContext.</summary>
    private static FustalStudentTransformer Create(IHostEnvironment env, object ctx)
    {
        var l = OpenV2(env, ctx, Version, typeof(FustalStudentTransformer));
        return new FustalStudentTransformer(env, l.Description, l.Network, l.Device);
    }

    internal static void RegisterLoader(ComponentCatalog catalog) =>
        RegisterLoader(catalog, typeof(FustalStudentTransformer), LoaderSignature);
}

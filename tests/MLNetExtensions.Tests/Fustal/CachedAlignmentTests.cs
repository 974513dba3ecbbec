using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Estimators.Fustal;
using MLNetExtensions.Evaluators.TemporalLocalization;
using MLNetExtensions.Transforms.Fustal;
using Xunit;

namespace MLNetExtensions.Tests.Fustal;

/// <summary>
/// Appended columns stay on their rows when the output is cached column by column (the example's pseudo-label
/// precision of ~0.02 came from rows of one column paired with rows of another).
/// </summary>
public sealed class CachedAlignmentTests
{
    private static IDataView Rows(MLContext ml, int n)
    {
        var rows = Enumerable.Range(0, n).Select(i => new PseudoLabelSelectionTransformTests.Row
        {
            VideoId = $"v{i}", SegmentStart = new[] { (float)i }, SegmentEnd = new[] { i + 1f }, SegmentScore = new[] { 0.9f }, SegmentLabel = new uint[] { 1 },
        }).ToArray();
        var def = SchemaDefinition.Create(typeof(PseudoLabelSelectionTransformTests.Row));
        def["SegmentLabel"].ColumnType = new VectorDataViewType(new KeyDataViewType(typeof(uint), 2));
        return ml.Data.LoadFromEnumerable(rows, def);
    }

    [Fact]
    public void SelectionOverACacheKeepsEveryRowsColumnsTogetherWhenCachedAgain()
    {
        var ml = new MLContext(1).RegisterMLNetExtensions();
        var input = ml.Data.Cache(Rows(ml, 2000));
        var sel = ml.Data.Cache(ml.TemporalLocalization().Transforms.SelectPseudoLabels(0, double.NegativeInfinity).Fit(input).Transform(input));
        var ids = sel.GetColumn<ReadOnlyMemory<char>>("VideoId").Select(x => x.ToString()).ToList();
        var starts = sel.GetColumn<VBuffer<float>>("PseudoStart").Select(v => v.GetValues()[0]).ToList();
        Assert.Equal(ids.Count, starts.Count);
        for (int i = 0; i < ids.Count; i++) Assert.Equal($"v{(int)starts[i]}", ids[i]);
    }
}

/// <summary>
/// <see cref="ProposalColumns.Read"/> copies every row: the example's pseudo-label precision of ~0.02 came from
/// <c>GetColumn&lt;VBuffer&lt;float&gt;&gt;().ToList()</c>, whose VBuffers share the getter's reused buffer.
/// </summary>
public sealed class ProposalColumnsTests
{
    public sealed class Segments
    {
        public string VideoId { get; set; } = "";
        public float[] SegmentStart { get; set; } = Array.Empty<float>();
        public float[] SegmentEnd { get; set; } = Array.Empty<float>();
        public float[] SegmentScore { get; set; } = Array.Empty<float>();
        public uint[] SegmentLabel { get; set; } = Array.Empty<uint>();
    }

    [Fact]
    public void ReadMatchesCopiedRowsOfTheTeachersReusedBuffersWhereListedVBuffersDoNot()
    {
        TorchSharp.torch.set_num_threads(1);
        var ml = new MLContext(1).RegisterMLNetExtensions();
        var data = FustalTeacherPipelineTests.Data;
        var videos = MLNetExtensions.Transforms.Datasets.SyntheticUntrimmedFeatures.Generate(24, videoSeed: 1, data);
        var train = ml.Data.Cache(MLNetExtensions.Transforms.Datasets.SyntheticUntrimmedDataView.Load(ml, videos, data.NumClasses));
        using var teacher = ml.TemporalLocalization().Trainers.FustalTeacher(FustalTeacherPipelineTests.TeacherOptions(1)).Fit(train);
        var scored = teacher.Transform(train);
        var rows = ml.Data.CreateEnumerable<Segments>(scored, reuseRowObject: false).ToList();
        var read = ProposalColumns.Read(scored);
        Assert.Equal(rows.Select(r => r.VideoId), read.Keys);
        foreach (var r in rows)
        {
            var p = read[r.VideoId];
            Assert.Equal(r.SegmentStart, p.Select(x => (float)x.Start));
            Assert.Equal(r.SegmentEnd, p.Select(x => (float)x.End));
            Assert.Equal(r.SegmentScore, p.Select(x => (float)x.Score));
            Assert.Equal(r.SegmentLabel, p.Select(x => (uint)x.ClassIndex + 1));
        }
        // The rows differ from each other (so the comparison can fail), and the listed-VBuffer shortcut does get them wrong.
        Assert.True(rows.Select(r => string.Join(",", r.SegmentStart)).Distinct().Count() > rows.Count / 2);
        var listed = scored.GetColumn<VBuffer<float>>("SegmentStart").ToList().Select(v => v.DenseValues().ToArray()).ToList();
        Assert.True(listed.Where((v, i) => !v.SequenceEqual(rows[i].SegmentStart)).Count() > 0, "GetColumn().ToList() no longer shares buffers");
        var missing = Assert.ThrowsAny<ArgumentException>(() => ProposalColumns.Read(scored, "Pseudo"));
        Assert.Contains("PseudoStart", missing.Message);
    }
}

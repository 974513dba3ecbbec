using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.IO;
using MLNetExtensions.Estimators.Fustal;
using MLNetExtensions.Evaluators.TemporalLocalization;
using MLNetExtensions.Transforms.Datasets;
using MLNetExtensions.Transforms.Fustal;
using Xunit;

namespace MLNetExtensions.Tests.Fustal;

/// <summary><c>LoadSnippetFeatures</c>: per-video .npy feature files → the teacher's feature-sequence column.</summary>
public sealed class SnippetFeatureFilesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fustal_npy_").FullName;
    public void Dispose() { try { Directory.Delete(_dir, true); } catch (IOException) { } }

    public sealed class PathRow
    {
        public string VideoId { get; set; } = "";
        public string FeaturePath { get; set; } = "";
    }

    public sealed class IdRow { public string VideoId { get; set; } = ""; }
    public sealed class PathOut { public string FeaturePath { get; set; } = ""; }

    public sealed class FeaturesOut
    {
        public float[] Features { get; set; } = Array.Empty<float>();
    }

    /// <summary>A raw .npy file with any header (for dtype/shape errors).</summary>
    private string RawNpy(string name, string descr, string shape, int bytes)
    {
        var header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}";
        header += new string(' ', (64 - (10 + header.Length + 1) % 64) % 64) + "\n";
        var path = Path.Combine(_dir, name);
        using var fs = File.Create(path);
        fs.Write(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 });
        fs.Write(BitConverter.GetBytes((ushort)header.Length));
        fs.Write(Encoding.ASCII.GetBytes(header));
        fs.Write(new byte[bytes]);
        return path;
    }

    [Fact]
    public void FilesLoadAsTheInMemorySequencesAndATeacherTrainedOnThemMatchesOneTrainedInMemory()
    {
        TorchSharp.torch.set_num_threads(1);
        var ml = new MLContext(1).RegisterMLNetExtensions();
        var data = FustalTeacherPipelineTests.Data;
        var videos = SyntheticUntrimmedFeatures.Generate(16, videoSeed: 5, data);
        foreach (var v in videos) Npy.Write(Path.Combine(_dir, v.Id + ".npy"), v.Features, v.Length, data.FeatureDim);
        var memory = ml.Data.Cache(SyntheticUntrimmedDataView.Load(ml, videos, data.NumClasses));
        // The same rows with the features replaced by paths (relative: resolved against the folder option).
        var paths = ml.Transforms.CustomMapping<IdRow, PathOut>((i, o) => o.FeaturePath = i.VideoId + ".npy", null)
            .Fit(memory).Transform(memory);
        var noFeatures = ml.Transforms.DropColumns("Features").Fit(paths).Transform(paths);
        var loader = ml.TemporalLocalization().Transforms.LoadSnippetFeatures(data.FeatureDim, folder: _dir).Fit(noFeatures);
        var fromFiles = ml.Data.Cache(loader.Transform(noFeatures));
        var loaded = ml.Data.CreateEnumerable<FeaturesOut>(fromFiles, reuseRowObject: false).ToList();
        for (int i = 0; i < videos.Count; i++) Assert.Equal(videos[i].Features, loaded[i].Features);

        // PredictionEngine and Save/Load.
        var engine = ml.Model.CreatePredictionEngine<PathRow, FeaturesOut>(loader, ignoreMissingColumns: true);
        Assert.Equal(videos[3].Features, engine.Predict(new PathRow { FeaturePath = Path.Combine(_dir, videos[3].Id + ".npy") }).Features);
        var zip = Path.Combine(_dir, "loader.zip");
        ml.Model.Save(loader, noFeatures.Schema, zip);
        var back = ml.Model.Load(zip, out _);
        Assert.Equal(videos[7].Features, back.Transform(noFeatures).GetColumn<VBuffer<float>>("Features").Skip(7).First().DenseValues().ToArray());

        // The teacher (same seed) trained from the files gives the same proposals as from memory.
        var a = ProposalColumns.Read(ml.TemporalLocalization().Trainers.FustalTeacher(FustalTeacherPipelineTests.TeacherOptions(1)).Fit(memory).Transform(memory));
        var b = ProposalColumns.Read(ml.TemporalLocalization().Trainers.FustalTeacher(FustalTeacherPipelineTests.TeacherOptions(1)).Fit(fromFiles).Transform(fromFiles));
        Assert.Equal(a.Keys, b.Keys);
        foreach (var k in a.Keys) Assert.Equal(a[k], b[k]);
        Assert.True(a.Values.Sum(p => p.Count) > 0);
    }

    [Fact]
    public void BadFilesFailNamingTheColumnRowAndFile()
    {
        var ml = new MLContext(1).RegisterMLNetExtensions();
        Npy.Write(Path.Combine(_dir, "good.npy"), new float[12], 3, 4);
        Npy.Write(Path.Combine(_dir, "wrongD.npy"), new float[15], 3, 5);
        Npy.Write(Path.Combine(_dir, "flat.npy"), new float[12], 12);
        Npy.Write(Path.Combine(_dir, "nan.npy"), new float[] { 0, 0, 0, 0, 0, float.NaN, 0, 0 }, 2, 4);
        RawNpy("ints.npy", "<i8", "(3, 4)", 96);
        File.WriteAllText(Path.Combine(_dir, "text.npy"), "not an array");
        var est = ml.TemporalLocalization().Transforms.LoadSnippetFeatures(4, folder: _dir);
        Exception Fail(string file)
        {
            var view = ml.Data.LoadFromEnumerable(new[] { new PathRow { FeaturePath = "good.npy" }, new PathRow { FeaturePath = file } });
            var t = est.Fit(view).Transform(view);
            return Assert.ThrowsAny<Exception>(() => t.GetColumn<VBuffer<float>>("Features").Select(v => v.Length).ToList());
        }
        void Has(Exception e, params string[] parts)
        {
            var all = e.ToString();
            foreach (var p in parts) Assert.Contains(p, all);
        }
        Has(Fail("missing.npy"), "FeaturePath", "row 1", "missing.npy", "not found");
        Has(Fail("wrongD.npy"), "row 1", "wrongD.npy", "(3, 5)", "(T, 4)");
        Has(Fail("flat.npy"), "flat.npy", "(12)");
        Has(Fail("ints.npy"), "ints.npy", "<i8", "float32");
        Has(Fail("text.npy"), "text.npy", "not a readable .npy");
        Has(Fail("nan.npy"), "nan.npy", "non-finite", "snippet 1");
        Has(Fail(" "), "row 1", "empty");
        // Schema errors before any reading.
        var numbers = ml.Data.LoadFromEnumerable(new[] { new FeaturesOut() });
        Assert.Contains("FeaturePath", Assert.ThrowsAny<ArgumentException>(() => est.Fit(numbers)).Message);
        Assert.ThrowsAny<ArgumentException>(() => ml.TemporalLocalization().Transforms.LoadSnippetFeatures(0));
    }
}

using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Estimators.AlignKd;
using MLNetExtensions.Estimators.VisionLanguage;
using MLNetExtensions.Transforms.AlignKd;
using MLNetExtensions.Transforms.Datasets;
using MLNetExtensions.Transforms.VisionLanguage;
using Xunit;

namespace MLNetExtensions.Tests.AlignKd;

public class AlignKdDistillerTests
{
    private static readonly Lazy<VisionLanguageTransformer> SharedTeacher = new(() =>
    {
        var ml = new MLContext(1);
        var data = ml.Data.Cache(FashionSceneVqa.Create(ml, FashionMnistSplit.Train, 1, 300).ToDataView(ml, 32));
        return ml.MulticlassClassification.Trainers.VisionLanguage(new VisionLanguageTrainer.Options
        {
            DModel = 16, Layers = 1, Heads = 4, MaxEpochs = 1, BatchSize = 16, VisionTowerPretrainSteps = 3, Seed = 1, LogEveryNSteps = 0,
        }).Fit(data);
    });

    /// <summary>A tiny fitted teacher shared by the tests (and the contract case).</summary>
    internal static VisionLanguageTransformer Teacher => SharedTeacher.Value;

    [Fact]
    public void DistillsAStudentThatServesAndReportsEveryTerm()
    {
        var ml = new MLContext(2).RegisterMLNetExtensions();
        var train = ml.Data.Cache(FashionSceneVqa.Create(ml, FashionMnistSplit.Train, 3, 300).ToDataView(ml, 32));
        var test = ml.Data.Cache(FashionSceneVqa.Create(ml, FashionMnistSplit.Test, 4, 300).ToDataView(ml, 8));
        var progress = new List<IReadOnlyDictionary<string, double>>();
        var distiller = ml.MulticlassClassification.Trainers.AlignKd(new AlignKdDistiller.Options
        {
            Teacher = Teacher, DModel = 8, Layers = 1, Heads = 2, MaxEpochs = 1, BatchSize = 16, Seed = 4, LogEveryNSteps = 0,
            Objective = new AlignKdObjectiveOptions { FocusTopK = 2, HeadAdapter = HeadAdapter.Learnable },
        });
        using var student = distiller.Fit(train);
        Assert.Equal(8, student.Network.Config.DModel);
        Assert.Equal(Teacher.Tokenizer.Vocabulary, student.Tokenizer.Vocabulary);
        // The student's tower is the teacher's (frozen, shared).
        var tw = Teacher.Network.VisionTower.state_dict(); var sw = student.Network.VisionTower.state_dict();
        foreach (var (k, v) in tw) Assert.True(v.equal(sw[k]).all().item<bool>(), k);
        var answers = student.Transform(test).GetColumn<string>("PredictedAnswer").ToArray();
        Assert.Equal(8, answers.Length);
        var terms = distiller.LastTrainingSummary!;
        Assert.NotNull(terms);
    }

    [Fact]
    public void MissingTeacherIsNamed()
    {
        var e = Assert.Throws<ArgumentNullException>(() => new AlignKdDistiller.Options().Validate());
        Assert.Contains("Teacher", e.Message);
    }
}

using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Estimators.VisionLanguage;
using MLNetExtensions.Transforms.Datasets;
using MLNetExtensions.Transforms.VisionLanguage;
using Xunit;

namespace MLNetExtensions.Tests.VisionLanguage;

public class VisionLanguageTrainerTests
{
    private sealed class Row
    {
        [VectorType(1, 56, 56)] public float[] Image { get; set; } = Array.Empty<float>();
        public string Question { get; set; } = "";
    }
    private sealed class Answer
    {
        public string PredictedAnswer { get; set; } = "";
        public float[] Score { get; set; } = Array.Empty<float>();
    }

    [Fact]
    public void FitsAnswersWithTextAndScoreAndRoundTripsWithItsTokenizer()
    {
        var ml = new MLContext(1).RegisterMLNetExtensions();
        var gen = FashionSceneVqa.Create(ml, FashionMnistSplit.Train, 1, 600);
        var train = ml.Data.Cache(gen.ToDataView(ml, 192));
        var test = ml.Data.Cache(FashionSceneVqa.Create(ml, FashionMnistSplit.Test, 2, 300).ToDataView(ml, 24));
        var trainer = ml.MulticlassClassification.Trainers.VisionLanguage(new VisionLanguageTrainer.Options
        {
            DModel = 32, Layers = 1, Heads = 2, MaxEpochs = 4, BatchSize = 32, LearningRate = 3e-3, WarmupSteps = 5,
            VisionTowerPretrainSteps = 20, Seed = 3, LogEveryNSteps = 0,
        });
        using var model = trainer.Fit(train);
        var losses = trainer.LastTrainingSummary!;
        Assert.NotNull(losses);
        var scored = model.Transform(test);
        var answers = scored.GetColumn<string>("PredictedAnswer").ToArray();
        var scores = scored.GetColumn<float[]>("Score").ToArray();
        var words = FashionSceneVqa.Words.ToHashSet();
        // The answers are words of the task (after 4 short epochs the model has learned the answer format).
        Assert.True(answers.Count(a => words.Contains(a)) >= 20, string.Join(" | ", answers));
        Assert.All(scores, s => Assert.InRange(s[0], 0f, 1f));
        // PredictionEngine on a row without an Answer column = the batched Transform.
        var rows = ml.Data.CreateEnumerable<Row>(test, false).ToArray();
        var engine = ml.Model.CreatePredictionEngine<Row, Answer>(model);
        for (int i = 0; i < 4; i++)
        {
            var p = engine.Predict(rows[i]);
            Assert.Equal(answers[i], p.PredictedAnswer);
            Assert.Equal(scores[i][0], p.Score[0], 5);
        }
        // Save/Load: the tokenizer travels in the zip; a fresh MLContext gives the same answers.
        var path = Path.Combine(Path.GetTempPath(), $"vlm-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(model, train.Schema, path);
            using (var zip = ZipFile.OpenRead(path))
                Assert.Contains(zip.Entries, e => e.FullName.EndsWith(VisionLanguageTransformer.TokenizerStream, StringComparison.Ordinal));
            var ml2 = new MLContext(9).RegisterMLNetExtensions();
            var loaded = (VisionLanguageTransformer)ml2.Model.Load(path, out _);
            using (loaded)
            {
                Assert.Equal(model.Tokenizer.Vocabulary, loaded.Tokenizer.Vocabulary);
                Assert.Equal(answers, loaded.Transform(test).GetColumn<string>("PredictedAnswer").ToArray());
            }
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void BadColumnsAndOptionsAreNamed()
    {
        var ml = new MLContext(1);
        var data = FashionSceneVqa.Create(ml, FashionMnistSplit.Train, 1, 300).ToDataView(ml, 4);
        var t = ml.MulticlassClassification.Trainers.VisionLanguage(new VisionLanguageTrainer.Options { QuestionColumnName = "Query", VisionTowerPretrainSteps = 0 });
        var e = Assert.ThrowsAny<Exception>(() => t.Fit(data));
        Assert.Contains("Query", e.Message);
        var o = Assert.Throws<ArgumentOutOfRangeException>(() => new VisionLanguageTrainer.Options { DModel = 30, Heads = 4 }.Validate());
        Assert.Contains("DModel", o.Message);
    }
}

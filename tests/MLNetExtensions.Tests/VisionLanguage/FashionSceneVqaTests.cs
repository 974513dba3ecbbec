using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Text;
using MLNetExtensions.Transforms.Datasets;
using MLNetExtensions.Transforms.VisionLanguage;
using Xunit;

namespace MLNetExtensions.Tests.VisionLanguage;

public class FashionSceneVqaTests
{
    private static readonly MLContext Ml = new(0);

    [Fact]
    public void ExamplesHaveFourDistinctClassesAndConsistentAnswers()
    {
        var gen = FashionSceneVqa.Create(Ml, FashionMnistSplit.Train, seed: 3, sourceRows: 1000);
        var labels = gen.SourceLabels.ToArray();
        var types = new int[3]; int yes = 0, isThere = 0;
        foreach (var e in gen.Examples(600))
        {
            Assert.Equal(4, e.Classes.Distinct().Count());
            for (int q = 0; q < 4; q++) Assert.Equal(e.Classes[q], labels[e.SourceIndices[q]]);
            types[(int)e.Type]++;
            switch (e.Type)
            {
                case VqaQuestionType.What:
                    Assert.Equal($"what is {FashionSceneVqa.PositionWords[e.AskedQuadrant]} ?", e.Question);
                    Assert.Equal(FashionSceneVqa.ClassWords[e.Classes[e.AskedQuadrant]], e.Answer);
                    break;
                case VqaQuestionType.Where:
                    Assert.Equal(FashionSceneVqa.PositionWords[e.AskedQuadrant], e.Answer);
                    Assert.Equal($"where is {FashionSceneVqa.ClassWords[e.Classes[e.AskedQuadrant]]} ?", e.Question);
                    break;
                default:
                    isThere++;
                    var word = e.Question.Split(' ')[2];
                    int cls = FashionSceneVqa.ClassWords.ToList().IndexOf(word);
                    Assert.Equal(e.Classes.Contains(cls) ? "yes" : "no", e.Answer);
                    if (e.Answer == "yes") { yes++; Assert.Equal(cls, e.Classes[e.AskedQuadrant]); } else Assert.Equal(-1, e.AskedQuadrant);
                    break;
            }
        }
        Assert.All(types, t => Assert.InRange(t, 160, 240));          // uniform over 3 types (600 draws)
        Assert.InRange(yes / (double)isThere, 0.38, 0.62);             // 50 % present
    }

    [Fact]
    public void ExamplesAreAPureFunctionOfSeedAndIndex()
    {
        var a = FashionSceneVqa.Create(Ml, FashionMnistSplit.Train, seed: 5, sourceRows: 500);
        var b = FashionSceneVqa.Create(Ml, FashionMnistSplit.Train, seed: 5, sourceRows: 500);
        var c = FashionSceneVqa.Create(Ml, FashionMnistSplit.Train, seed: 6, sourceRows: 500);
        Assert.Equal(a.Example(17).Question, b.Example(17).Question);
        Assert.Equal(a.Example(17).SourceIndices, b.Example(17).SourceIndices);
        Assert.Equal(a.Render(a.Example(17)), b.Render(b.Example(17)));
        Assert.NotEqual(Enumerable.Range(0, 20).Select(i => a.Example(i).Question), Enumerable.Range(0, 20).Select(i => c.Example(i).Question));
    }

    [Fact]
    public void TestScenesAreTiledFromTestImagesOnly()
    {
        var (testPx, _) = FashionSceneVqa.ReadSource(Ml, FashionMnistSplit.Test);
        var (trainPx, _) = FashionSceneVqa.ReadSource(Ml, FashionMnistSplit.Train, 200);
        var gen = FashionSceneVqa.Create(Ml, FashionMnistSplit.Test, seed: 1);
        Assert.Equal(testPx.Length / 784, gen.SourceCount);
        var e = gen.Example(4);
        var img = gen.Render(e);
        Assert.Equal(56 * 56, img.Length);
        for (int q = 0; q < 4; q++)
        {
            int top = q / 2 * 28, left = q % 2 * 28;
            var tile = Enumerable.Range(0, 28 * 28).Select(k => img[(top + k / 28) * 56 + left + k % 28]).ToArray();
            Assert.Equal(testPx.AsSpan(e.SourceIndices[q] * 784, 784).ToArray(), tile);
            for (int t = 0; t < 200; t++) Assert.NotEqual(trainPx.AsSpan(t * 784, 784).ToArray(), tile);
        }
    }

    [Fact]
    public void DataViewHasImageQuestionAnswerTextColumns()
    {
        var gen = FashionSceneVqa.Create(Ml, FashionMnistSplit.Test, seed: 2, sourceRows: 300);
        var dv = gen.ToDataView(Ml, 12, start: 3);
        var img = dv.Schema[FashionSceneVqa.ImageColumn].Type as VectorDataViewType;
        Assert.NotNull(img);
        Assert.Equal(new[] { 1, 56, 56 }, img!.Dimensions.ToArray());
        Assert.Equal(TextDataViewType.Instance, dv.Schema[FashionSceneVqa.QuestionColumn].Type);
        Assert.Equal(TextDataViewType.Instance, dv.Schema[FashionSceneVqa.AnswerColumn].Type);
        var questions = dv.GetColumn<string>(FashionSceneVqa.QuestionColumn).ToArray();
        var answers = dv.GetColumn<string>(FashionSceneVqa.AnswerColumn).ToArray();
        Assert.Equal(12, questions.Length);
        for (int i = 0; i < 12; i++) { Assert.Equal(gen.Example(3 + i).Question, questions[i]); Assert.Equal(gen.Example(3 + i).Answer, answers[i]); }
    }

    [Fact]
    public void TokenizerSpellsEveryQuestionInFourTokensAndEveryAnswerInOne()
    {
        var tok = VqaEncoding.SceneTokenizer();
        Assert.Equal(TextTokenizer.SpecialCount + FashionSceneVqa.Words.Count, tok.VocabularySize);
        var gen = FashionSceneVqa.Create(Ml, FashionMnistSplit.Train, seed: 0, sourceRows: 500);
        foreach (var e in gen.Examples(200))
        {
            var (ids, sup) = VqaEncoding.Training(tok, e.Question, e.Answer);
            Assert.Equal(8, ids.Length);                                   // bos, image, 4 question tokens, answer, eos
            Assert.Equal(TextTokenizer.ImageId, ids[1]);
            Assert.DoesNotContain((long)TextTokenizer.UnknownId, ids);
            Assert.Equal(new long[] { 0, 0, 0, 0, 0, 0, 1, 1 }, sup);
            Assert.Equal(e.Answer, tok.Decode(new[] { ids[6] }));
        }
    }

    [Fact]
    public void BadSourcesAreRejectedWithClearErrors()
    {
        var e1 = Assert.Throws<ArgumentException>(() => new FashionSceneVqa(new float[784 * 2], new byte[] { 0, 1 }));
        Assert.Contains("lack classes", e1.Message);
        Assert.Throws<ArgumentException>(() => new FashionSceneVqa(new float[10], new byte[] { 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => FashionSceneVqa.Create(Ml, FashionMnistSplit.Test, skipRows: -1));
    }
}

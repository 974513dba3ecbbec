using MLNetExtensions.Evaluators.Translation.Judge;
using MLNetExtensions.Evaluators.Translation.Statistics;
using Xunit;

namespace MLNetExtensions.Tests.Translation;

public sealed class JudgeParserTests
{
    [Fact]
    public void StrictJsonIsOk()
    {
        var v = JudgeResponseParser.Parse(JudgeDimension.Fluency, "{\"fluency\": {\"score\": \"4\", \"explanation\": \"good\"}}");
        Assert.Equal(JudgeStatus.Ok, v.Status);
        Assert.Equal(4, v.Score);
        Assert.Equal("good", v.Explanation);
    }

    [Theory]
    // prose and a code fence around the object, trailing comma
    [InlineData("Sure! Here is my evaluation:\n```json\n{\"fluency\": {\"score\": 3, \"explanation\": \"ok\",}}\n```\nThanks.", 3)]
    // raw newline and unescaped inner quotes in a string (seen in the released GPT-4 judgements)
    [InlineData("{\"fluency\": {\"score\": \"2\", \"explanation\": \"He wrote \"the the\" twice\nand more\"}}", 2)]
    // "4/5" as the score string
    [InlineData("{\"Fluency\": {\"Score\": \"4/5\"}}", 4)]
    public void RepairableJsonIsRepaired(string raw, double expected)
    {
        var v = JudgeResponseParser.Parse(JudgeDimension.Fluency, raw);
        Assert.True(v.Succeeded, v.Error);
        Assert.Equal(expected, v.Score);
        Assert.NotEqual(JudgeStatus.RegexFallback, v.Status);
    }

    [Theory]
    [InlineData("Fluency: 4 out of 5. The text reads well.", 4)]
    [InlineData("score = 5 (excellent)", 5)]
    [InlineData("I would give it 2/5 overall.", 2)]
    public void NonJsonFallsBackToRegex(string raw, double expected)
    {
        var v = JudgeResponseParser.Parse(JudgeDimension.Fluency, raw);
        Assert.Equal(JudgeStatus.RegexFallback, v.Status);
        Assert.Equal(expected, v.Score);
    }

    [Theory]
    [InlineData("The translation is quite fluent overall.")]
    [InlineData("{\"fluency\": {\"score\": \"9\"}}")] // out of range
    [InlineData("")]
    public void UnusableAnswersFail(string raw)
    {
        var v = JudgeResponseParser.Parse(JudgeDimension.Fluency, raw);
        Assert.Equal(JudgeStatus.Failed, v.Status);
        Assert.False(string.IsNullOrEmpty(v.Error));
    }

    [Fact]
    public void AccuracyListsKeepTypesAndCountObjects()
    {
        var v = JudgeResponseParser.Parse(JudgeDimension.Accuracy,
            "{\"accuracy_mistakes\": [{\"type\": \"omission\", \"description\": \"drops the date\"}, \"Wrong translation: 'bank' as river bank\", {\"type\": \"addition\", \"description\": \"adds 'very'\"}]}");
        Assert.True(v.Succeeded);
        Assert.Equal(3, v.ContentErrorCount);
        Assert.Equal(new[] { "omission", "wrong", "addition" }, v.ContentErrors!.Select(m => m.Type));
        var empty = JudgeResponseParser.Parse(JudgeDimension.Accuracy, "{\"Accuracy\": []}");
        Assert.Equal(0, empty.ContentErrorCount);
    }

    [Fact]
    public void CohesionNeedsBothListsAndCountsBrokenLists()
    {
        var ok = JudgeResponseParser.Parse(JudgeDimension.Cohesion,
            "{\"cohesion\": {\"lexical_cohesion_mistakes\": [\"a\", \"b\"], \"grammatical_cohesion_mistakes\": []}}");
        Assert.Equal((2, 0), (ok.LexicalErrorCount!.Value, ok.GrammaticalErrorCount!.Value));
        var broken = JudgeResponseParser.Parse(JudgeDimension.Cohesion,
            "Lexical Cohesion mistakes: [\"term \"X\" varies\", \"repeats 'said'\", \"c\"]\nGrammatical Cohesion mistakes: [\"pronoun 'it' unclear\"]");
        Assert.Equal(JudgeStatus.RegexFallback, broken.Status);
        Assert.Equal((3, 1), (broken.LexicalErrorCount!.Value, broken.GrammaticalErrorCount!.Value));
        var half = JudgeResponseParser.Parse(JudgeDimension.Cohesion, "{\"lexical_cohesion_mistakes\": []}");
        Assert.Equal(JudgeStatus.Failed, half.Status);
    }

    [Theory]
    [InlineData("{\"better\": \"2\", \"reason\": \"x\"}", "2")]
    [InlineData("{\"better\": \"Translation 1\"}", "1")]
    [InlineData("Better: tie", "tie")]
    [InlineData("no idea", null)]
    public void PairwisePreference(string raw, string? expected) => Assert.Equal(expected, JudgeResponseParser.ParsePreference(raw));

    [Fact]
    public void CorrelationsMatchHandComputedValues()
    {
        double[] x = { 1, 2, 3, 4 }, y = { 1, 3, 2, 4 };
        Assert.Equal(4.0 / 6.0, Correlation.KendallTau(x, y), 12);   // 5 concordant, 1 discordant
        Assert.Equal(0.8, Correlation.Pearson(x, y), 12);
        Assert.Equal(0.8, Correlation.Spearman(x, y), 12);
        // tau-b with a tie in x: C=5, D=0, one pair tied in x only -> 5/sqrt((5+1)*5)
        Assert.Equal(5 / Math.Sqrt(30), Correlation.KendallTau(new double[] { 1, 1, 2, 3 }, new double[] { 1, 2, 3, 4 }), 12);
        Assert.True(double.IsNaN(Correlation.Pearson(new double[] { 1, 1 }, new double[] { 1, 2 })));
    }

    [Fact]
    public void BootstrapIntervalIsDeterministicAndBracketsTheMean()
    {
        var v = Enumerable.Range(0, 40).Select(i => (double)(i % 5)).ToArray();
        var a = Bootstrap.MeanCI(v, 500, 0.95, 7);
        var b = Bootstrap.MeanCI(v, 500, 0.95, 7);
        Assert.Equal(a, b);
        Assert.Equal(2.0, a.Mean, 12);
        Assert.True(a.Lower < a.Mean && a.Mean < a.Upper);
        Assert.InRange(a.Upper - a.Lower, 0.4, 1.8); // ≈ 2·1.96·sd/√n = 2·1.96·1.414/6.32 ≈ 0.88
    }
}
